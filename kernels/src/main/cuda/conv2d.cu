// fp32 conv2d (cross-correlation, zero padding, any kernel size, stride, asymmetric padding) as an
// implicit GEMM: out[o, p] = sum_k w[o, k] * patch[k, p] + bias[o], with
//   k = (c, r, q) over C x kh x kw (the weight's own row-major order) and
//   p = (n, y, x) over N x OH x OW;
// patch[k, p] = x[n, c, y*stride - padTop + r, x*stride - padLeft + q] (0 outside the image) is read
// straight from x inside the tile loader, so no im2col buffer is ever written. An optional residual
// (NCHW like out, e.g. a ResNet block's shortcut, or [N, O, 1, 1], its time embedding) is added in the
// epilogue (ConvStore).
#include "common.cuh"
#include "conv2d_operands.cuh"
#include "gemm_tile.cuh"

template <int BM, int BK, int KH, int KW>
__device__ __forceinline__ void conv2d_igemm(const float* x, const float* w, const float* bias, float* out, int n, int c,
                                             int h, int wd, int o, int kh, int kw, int stride, int padTop, int padLeft,
                                             int oh, int ow, const float* residual, long long rn, long long rc,
                                             long long rp) {
    int K = c * kh * kw, P = n * oh * ow;
    WeightRows la{w, K};
    Patches<KH, KW> lb{x, c, h, wd, kh, kw, stride, padTop, padLeft, oh, ow};
    ConvStore st{out, bias, o, oh * ow, residual, rn, rc, rp};
    gemm_tile<BM, BK>(o, P, K, blockIdx.y * BM, blockIdx.x * BM, la, lb, st);
}

// Per tile size (64, 128) and kernel size: 1x1, 3x3 and any other (kn).
#define CONV2D(NAME, BM, BK, KH, KW)                                                                         \
    extern "C" __global__ void __launch_bounds__(256) NAME(                                                  \
            const float* x, const float* w, const float* bias, float* out, int n, int c, int h, int wd, int o, \
            int kh, int kw, int stride, int padTop, int padLeft, int oh, int ow, const float* residual,      \
            long long rn, long long rc, long long rp) {                                                      \
        conv2d_igemm<BM, BK, KH, KW>(x, w, bias, out, n, c, h, wd, o, kh, kw, stride, padTop, padLeft, oh, ow, \
                                     residual, rn, rc, rp);                                                  \
    }

CONV2D(conv2d_64_k1_f32, 64, 16, 1, 1)
CONV2D(conv2d_64_k3_f32, 64, 16, 3, 3)
CONV2D(conv2d_64_kn_f32, 64, 16, 0, 0)
CONV2D(conv2d_128_k1_f32, 128, 8, 1, 1)
CONV2D(conv2d_128_k3_f32, 128, 8, 3, 3)
CONV2D(conv2d_128_kn_f32, 128, 8, 0, 0)
