// The operands of gemm.cu and gemm_mma.cu: strided A/B loaders (F32, or B as 16-bit values already in
// the tensor-core operand type) and the output store with fused bias and activation. For mma_tile.cuh's
// chunked staging a loader also gives vec (elements per 16-byte or float4 chunk), ptr(row, k) (the
// element's address) and vecOk() (whether every chunk along the contiguous direction is a contiguous,
// aligned run: stride 1 there, the other stride a multiple of vec, a 16-byte aligned base); taps is
// false (see conv2d_operands.cuh's Patches).
#pragma once
#include "common.cuh"

__device__ __forceinline__ bool aligned16(const void* p) { return (reinterpret_cast<unsigned long long>(p) & 15) == 0; }

template <bool KF>
struct StridedA {
    static constexpr bool kFast = KF;
    const float* p;
    long long sm, sk;
    using Row = int;
    __device__ Row row(int m) const { return m; }
    __device__ float load(Row m, int k) const { return p[m * sm + k * sk]; }
    static constexpr int vec = 4;
    static constexpr bool taps = false;
    __device__ const float* ptr(int m, int k) const { return p + m * sm + k * sk; }
    __device__ bool vecOk() const { return (KF ? sk == 1 && sm % 4 == 0 : sm == 1 && sk % 4 == 0) && aligned16(p); }
};

template <bool NF>
struct StridedB {
    static constexpr bool nFast = NF;
    const float* p;
    long long sk, sn;
    using Col = int;
    __device__ Col col(int n) const { return n; }
    __device__ float load(Col n, int k) const { return p[k * sk + n * sn]; }
    static constexpr int vec = 4;
    static constexpr bool taps = false;
    __device__ const float* ptr(int n, int k) const { return p + k * sk + n * sn; }
    __device__ bool vecOk() const { return (NF ? sn == 1 && sk % 4 == 0 : sk == 1 && sn % 4 == 0) && aligned16(p); }
};

// B already in the 16-bit operand type.
template <bool NF>
struct StridedB16 {
    static constexpr bool nFast = NF;
    const unsigned short* p;
    long long sk, sn;
    using Col = int;
    __device__ Col col(int n) const { return n; }
    __device__ unsigned short load(Col n, int k) const { return p[k * sk + n * sn]; }
    using Raw = unsigned short;
    static __device__ __forceinline__ unsigned short to16(unsigned short x) { return x; }
    static constexpr int vec = 8;
    static constexpr bool taps = false;
    __device__ const unsigned short* ptr(int n, int k) const { return p + k * sk + n * sn; }
    __device__ bool vecOk() const { return (NF ? sn == 1 && sk % 8 == 0 : sk == 1 && sn % 8 == 0) && aligned16(p); }
};

// GEGLU's projection weight w [2F, K] (16-bit, as loaded: value rows 0..F-1, then gate rows F..2F-1) read
// as B [K, 2F] with its columns interleaved: column n is row (n % 2) F + n / 2 of w, so columns 2j and
// 2j + 1 are feature j's value and gate (GegluStore). Each column is one row of w, contiguous in k.
struct GegluB16 {
    static constexpr bool nFast = false;
    const unsigned short* p;
    long long k;
    int f;
    using Col = long long;  // element offset of the column's row in w
    __device__ Col col(int n) const { return (long long) ((n & 1) * f + (n >> 1)) * k; }
    __device__ unsigned short load(Col c, int kk) const { return p[c + kk]; }
    using Raw = unsigned short;
    static __device__ __forceinline__ unsigned short to16(unsigned short x) { return x; }
    static constexpr int vec = 8;
    static constexpr bool taps = false;
    __device__ const unsigned short* ptr(int n, int kk) const { return p + col(n) + kk; }
    __device__ bool vecOk() const { return k % 8 == 0 && aligned16(p); }
};

// C = act(A B + bias) + residual: residual (or null) is dense like C, added after the activation, so that
// linear + add in one op rounds exactly as the two ops would.
struct BiasActStore {
    float* c;
    const float* bias;
    int n, act;
    const float* residual;
    static constexpr bool kPairs = false;
    __device__ float finish(int m, int j, float v) const {
        if (bias) v += bias[j];
        if (act != 0) v = apply_act_call(v, act);
        return residual ? v + residual[(long long) m * n + j] : v;
    }
    __device__ float* at(int m, int j) const { return c + (long long) m * n + j; }
    __device__ bool adjacent(int, int) const { return true; }
};

// GEGLU in the epilogue: B's columns are the projection's rows interleaved (GegluB16: 2j = value j,
// 2j + 1 = gate j), so each accumulator pair of columns (n, n + 1), n even, is feature j = n / 2's value
// and gate: out[m, j] = (v + bias[j]) * gelu(g + bias[F + j]), out [M, F], bias [2F] as loaded. The
// [M, 2F] projection is never written.
struct GegluStore {
    float* out;
    const float* bias;  // [2F] (or null): values' then gates'
    int f;              // F = N / 2
    static constexpr bool kPairs = true;
    __device__ void pair(int m, int n, float v, float g) const {
        if (bias) {
            v += bias[n >> 1];
            g += bias[f + (n >> 1)];
        }
        out[(long long) m * f + (n >> 1)] = v * gelu_exact(g);
    }
};
