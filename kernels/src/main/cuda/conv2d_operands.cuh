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
    static constexpr bool taps = false;
    __device__ const unsigned short* ptr(int m, int kk) const { return w + (long long) m * k + kk; }
    __device__ bool vecOk() const { return k % 8 == 0 && (reinterpret_cast<unsigned long long>(w) & 15) == 0; }
};

// The patch column of output position p = (n, y, x): its image and top-left input corner, computed once
// per thread; load(col, k) then only splits k into (c, r, q). KH/KW > 0 fix the kernel size at compile
// time (the divisions become multiplications); 0 reads it from kh/kw.
//
// With a fixed kernel size mma_tile.cuh uses taps instead (taps = true): element k of any column is
// x[col.base + tap(k).off], where tap(k) (the same for every column, so computed once per slice and
// shared by the block) holds off = c*h*w + r*w + q and bit = 1 << (r*KW + q), its bit among the taps,
// and the column holds base = its image + iy0*w + ix0 and a mask of its taps that fall inside the image.
// A load is then a mask test and one add instead of splitting k and four bounds tests.
template <int KH, int KW>
struct Patches {
    const float* x;
    int c, h, w, kh, kw, stride, padTop, padLeft, oh, ow;
    static constexpr bool nFast = true;
    static constexpr int vec = 1;  // mma_tile.cuh stages patches element by element
    static constexpr bool taps = KH > 0 && KW > 0;
    static_assert(KH * KW <= 32, "tap masks hold up to 32 taps");
    struct Col {
        int image;  // element offset of image n (tensors here stay below 2^31 elements)
        int iy0, ix0;
        int base;       // image + iy0 * w + ix0 (taps)
        unsigned mask;  // bit r*KW + q: input row iy0 + r and column ix0 + q lie inside the image (taps)
    };
    __device__ Col col(int p) const {
        int ohw = oh * ow;
        int n = p / ohw, rem = p - n * ohw, y = rem / ow, xo = rem - y * ow;
        Col cl{n * c * h * w, y * stride - padTop, xo * stride - padLeft, 0, 0u};
        if constexpr (taps) {
            cl.base = cl.image + cl.iy0 * w + cl.ix0;
#pragma unroll
            for (int r = 0; r < KH; r++)
#pragma unroll
                for (int q = 0; q < KW; q++) {
                    int iy = cl.iy0 + r, ix = cl.ix0 + q;
                    if (iy >= 0 && iy < h && ix >= 0 && ix < w) cl.mask |= 1u << (r * KW + q);
                }
        }
        return cl;
    }
    __device__ float load(const Col& col, int k) const {
        const int khh = KH > 0 ? KH : kh, kww = KW > 0 ? KW : kw;
        int khw = khh * kww;
        int ci = k / khw, rq = k - ci * khw, r = rq / kww, q = rq - r * kww;
        int iy = col.iy0 + r, ix = col.ix0 + q;
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) return 0.0f;
        return x[col.image + (ci * h + iy) * w + ix];
    }
    struct Tap {
        int off;
        unsigned bit;
    };
    // Tap of element k; k >= K gets no bit, so it loads as zero.
    __device__ Tap tap(int k, int K) const {
        if (k >= K) return {0, 0u};
        int ci = k / (KH * KW), rq = k - ci * (KH * KW), r = rq / KW, q = rq - r * KW;
        return {(ci * h + r) * w + q, 1u << rq};
    }
    __device__ float load_tap(const Col& col, Tap t) const { return col.mask & t.bit ? x[col.base + t.off] : 0.0f; }
};

// out = conv + bias + residual; residual (or null) is read at n * rn + m * rc + (y * OW + x) * rp: NCHW like
// out (rn = O*OH*OW, rc = OH*OW, rp = 1), or one value per image and channel broadcast over the positions
// (a ResNet block's time embedding [N, O, 1, 1]: rn = O or 0, rc = 1, rp = 0).
struct ConvStore {
    float* out;
    const float* bias;
    int o, ohw;
    const float* residual;
    long long rn, rc, rp;
    static constexpr bool kPairs = false;
    __device__ float finish(int m, int p, float v) const {
        if (bias) v += bias[m];
        if (residual) {
            int n = p / ohw, rem = p - n * ohw;
            v += residual[n * rn + m * rc + rem * rp];
        }
        return v;
    }
    __device__ float* at(int m, int p) const {
        int n = p / ohw, rem = p - n * ohw;
        return out + ((long long) n * o + m) * ohw + rem;
    }
    // Positions p..p+v-1 are adjacent when they lie in one image.
    __device__ bool adjacent(int p, int v) const { return p % ohw + v <= ohw; }
};
