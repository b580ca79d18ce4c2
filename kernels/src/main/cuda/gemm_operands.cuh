// The operands of gemm.cu and gemm_mma.cu: strided A/B loaders (F32, or B as 16-bit values already in
// the tensor-core operand type) and the output store with fused bias and activation.
#pragma once
#include "common.cuh"

template <bool KF>
struct StridedA {
    static constexpr bool kFast = KF;
    const float* p;
    long long sm, sk;
    using Row = int;
    __device__ Row row(int m) const { return m; }
    __device__ float load(Row m, int k) const { return p[m * sm + k * sk]; }
};

template <bool NF>
struct StridedB {
    static constexpr bool nFast = NF;
    const float* p;
    long long sk, sn;
    using Col = int;
    __device__ Col col(int n) const { return n; }
    __device__ float load(Col n, int k) const { return p[k * sk + n * sn]; }
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
};

struct BiasActStore {
    float* c;
    const float* bias;
    int n, act;
    __device__ float finish(int, int j, float v) const {
        if (bias) v += bias[j];
        return act == 0 ? v : apply_act_call(v, act);
    }
    __device__ float* at(int m, int j) const { return c + (long long) m * n + j; }
    __device__ bool adjacent(int, int) const { return true; }
};
