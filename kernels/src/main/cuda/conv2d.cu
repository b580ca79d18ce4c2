// fp32 conv2d (cross-correlation, zero padding, any kernel size, stride, asymmetric padding) as an
// implicit GEMM: out[o, p] = sum_k w[o, k] * patch[k, p] + bias[o], with
//   k = (c, r, q) over C x kh x kw (the weight's own row-major order) and
//   p = (n, y, x) over N x OH x OW;
// patch[k, p] = x[n, c, y*stride - padTop + r, x*stride - padLeft + q] (0 outside the image) is read
// straight from x inside the tile loader, so no im2col buffer is ever written.
#include "common.cuh"
#include "gemm_tile.cuh"

struct WeightRows {
    const float* w;
    int k;
    static constexpr bool kFast = true;
    using Row = int;
    __device__ Row row(int m) const { return m; }
    __device__ float load(Row m, int kk) const { return w[(long long) m * k + kk]; }
};

// The patch column of output position p = (n, y, x): its image and top-left input corner, computed once
// per thread; load(col, k) then only splits k into (c, r, q). KH/KW > 0 fix the kernel size at compile
// time (the divisions become multiplications); 0 reads it from kh/kw.
template <int KH, int KW>
struct Patches {
    const float* x;
    int c, h, w, kh, kw, stride, padTop, padLeft, oh, ow;
    static constexpr bool nFast = true;
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
    __device__ void operator()(int m, int p, float v) const {
        int n = p / ohw, rem = p - n * ohw;
        if (bias) v += bias[m];
        out[((long long) n * o + m) * ohw + rem] = v;
    }
};

template <int BM, int BK, int KH, int KW>
__device__ __forceinline__ void conv2d_igemm(const float* x, const float* w, const float* bias, float* out, int n, int c,
                                             int h, int wd, int o, int kh, int kw, int stride, int padTop, int padLeft,
                                             int oh, int ow) {
    int K = c * kh * kw, P = n * oh * ow;
    WeightRows la{w, K};
    Patches<KH, KW> lb{x, c, h, wd, kh, kw, stride, padTop, padLeft, oh, ow};
    ConvStore st{out, bias, o, oh * ow};
    gemm_tile<BM, BK>(o, P, K, blockIdx.y * BM, blockIdx.x * BM, la, lb, st);
}

// Per tile size (64, 128) and kernel size: 1x1, 3x3 and any other (kn).
#define CONV2D(NAME, BM, BK, KH, KW)                                                                         \
    extern "C" __global__ void __launch_bounds__(256) NAME(                                                  \
            const float* x, const float* w, const float* bias, float* out, int n, int c, int h, int wd, int o, \
            int kh, int kw, int stride, int padTop, int padLeft, int oh, int ow) {                           \
        conv2d_igemm<BM, BK, KH, KW>(x, w, bias, out, n, c, h, wd, o, kh, kw, stride, padTop, padLeft, oh, ow); \
    }

CONV2D(conv2d_64_k1_f32, 64, 16, 1, 1)
CONV2D(conv2d_64_k3_f32, 64, 16, 3, 3)
CONV2D(conv2d_64_kn_f32, 64, 16, 0, 0)
CONV2D(conv2d_128_k1_f32, 128, 8, 1, 1)
CONV2D(conv2d_128_k3_f32, 128, 8, 3, 3)
CONV2D(conv2d_128_kn_f32, 128, 8, 0, 0)
