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
    __device__ float operator()(int m, int kk) const { return w[(long long) m * k + kk]; }
};

struct Patches {
    const float* x;
    int c, h, w, kh, kw, stride, padTop, padLeft, oh, ow;
    static constexpr bool nFast = true;
    __device__ float operator()(int k, int p) const {
        int khw = kh * kw;
        int ci = k / khw, rq = k - ci * khw, r = rq / kw, q = rq - r * kw;
        int ohw = oh * ow;
        int n = p / ohw, rem = p - n * ohw, y = rem / ow, xo = rem - y * ow;
        int iy = y * stride - padTop + r, ix = xo * stride - padLeft + q;
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) return 0.0f;
        return x[(((long long) n * c + ci) * h + iy) * w + ix];
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

template <int BM, int BK>
__device__ __forceinline__ void conv2d_igemm(const float* x, const float* w, const float* bias, float* out, int n, int c,
                                             int h, int wd, int o, int kh, int kw, int stride, int padTop, int padLeft,
                                             int oh, int ow) {
    int K = c * kh * kw, P = n * oh * ow;
    WeightRows la{w, K};
    Patches lb{x, c, h, wd, kh, kw, stride, padTop, padLeft, oh, ow};
    ConvStore st{out, bias, o, oh * ow};
    gemm_tile<BM, BK>(o, P, K, blockIdx.y * BM, blockIdx.x * BM, la, lb, st);
}

extern "C" __global__ void __launch_bounds__(256) conv2d_64_f32(
        const float* x, const float* w, const float* bias, float* out, int n, int c, int h, int wd, int o, int kh,
        int kw, int stride, int padTop, int padLeft, int oh, int ow) {
    conv2d_igemm<64, 16>(x, w, bias, out, n, c, h, wd, o, kh, kw, stride, padTop, padLeft, oh, ow);
}

extern "C" __global__ void __launch_bounds__(256) conv2d_128_f32(
        const float* x, const float* w, const float* bias, float* out, int n, int c, int h, int wd, int o, int kh,
        int kw, int stride, int padTop, int padLeft, int oh, int ow) {
    conv2d_igemm<128, 8>(x, w, bias, out, n, c, h, wd, o, kh, kw, stride, padTop, padLeft, oh, ow);
}
