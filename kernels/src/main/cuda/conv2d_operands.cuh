// The operands of conv2d.cu and conv2d_mma.cu: the weight rows (F32, or 16-bit values already in the
// tensor-core operand type), the implicit im2col patch columns read straight from the image, and the
// NCHW output store with bias.
#pragma once
#include "common.cuh"

struct WeightRows {
    const float* w;
    int k;
    static constexpr bool kFast = true;
    using Row = int;
    __device__ Row row(int m) const { return m; }
    __device__ float load(Row m, int kk) const { return w[(long long) m * k + kk]; }
};

// The weight as 16-bit values in the operand type.
struct WeightRows16 {
    const unsigned short* w;
    int k;
    static constexpr bool kFast = true;
    using Row = int;
    __device__ Row row(int m) const { return m; }
    __device__ unsigned short load(Row m, int kk) const { return w[(long long) m * k + kk]; }
    using Raw = unsigned short;
    static __device__ __forceinline__ unsigned short to16(unsigned short x) { return x; }
    // mma_tile.cuh's 16-byte chunks (see gemm_operands.cuh): rows of k values, aligned when k % 8 == 0.
    static constexpr int vec = 8;
    __device__ const unsigned short* ptr(int m, int kk) const { return w + (long long) m * k + kk; }
    __device__ bool vecOk() const { return k % 8 == 0 && (reinterpret_cast<unsigned long long>(w) & 15) == 0; }
};

// The patch column of output position p = (n, y, x): its image and top-left input corner, computed once
// per thread; load(col, k) then only splits k into (c, r, q). KH/KW > 0 fix the kernel size at compile
// time (the divisions become multiplications); 0 reads it from kh/kw.
template <int KH, int KW>
struct Patches {
    const float* x;
    int c, h, w, kh, kw, stride, padTop, padLeft, oh, ow;
    static constexpr bool nFast = true;
    static constexpr int vec = 1;  // mma_tile.cuh stages patches element by element
    struct Col {
        int image;  // element offset of image n (tensors here stay below 2^31 elements)
        int iy0, ix0;
    };
    __device__ Col col(int p) const {
        int ohw = oh * ow;
        int n = p / ohw, rem = p - n * ohw, y = rem / ow, xo = rem - y * ow;
        return {n * c * h * w, y * stride - padTop, xo * stride - padLeft};
    }
    __device__ float load(const Col& col, int k) const {
        const int khh = KH > 0 ? KH : kh, kww = KW > 0 ? KW : kw;
        int khw = khh * kww;
        int ci = k / khw, rq = k - ci * khw, r = rq / kww, q = rq - r * kww;
        int iy = col.iy0 + r, ix = col.ix0 + q;
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) return 0.0f;
        return x[col.image + (ci * h + iy) * w + ix];
    }
};

struct ConvStore {
    float* out;
    const float* bias;
    int o, ohw;
    __device__ float finish(int m, int, float v) const { return bias ? v + bias[m] : v; }
    __device__ float* at(int m, int p) const {
        int n = p / ohw, rem = p - n * ohw;
        return out + ((long long) n * o + m) * ohw + rem;
    }
    // Positions p..p+v-1 are adjacent when they lie in one image.
    __device__ bool adjacent(int p, int v) const { return p % ohw + v <= ohw; }
};
