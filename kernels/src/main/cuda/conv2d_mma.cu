// conv2d.cu's implicit-GEMM convolution on tensor cores (mma_tile.cuh), for the CudaBackend's FP16 and
// BF16 modes: the weight is already 16-bit in the operand type (converted once on the device), patch
// elements are rounded while staged; accumulation, bias and output stay fp32. A module of its own, so
// the fp32 mode never JIT-compiles it.
#include "common.cuh"
#include "conv2d_operands.cuh"
#include "mma_tile.cuh"

template <int BM, int KH, int KW, class Op>
__device__ __forceinline__ void conv2d_igemm_mma(const float* x, const unsigned short* w, const float* bias, float* out,
                                                 int n, int c, int h, int wd, int o, int kh, int kw, int stride,
                                                 int padTop, int padLeft, int oh, int ow, const float* residual,
                                                 long long rn, long long rc, long long rp) {
    int K = c * kh * kw, P = n * oh * ow;
    WeightRows16 la{w, K};
    Rounded<Patches<KH, KW>, Op> lb{{x, c, h, wd, kh, kw, stride, padTop, padLeft, oh, ow}};
    ConvStore st{out, bias, o, oh * ow, residual, rn, rc, rp};
    mma_tile<BM, BM, 32, Op>(o, P, K, blockIdx.y * BM, blockIdx.x * BM, la, lb, st);
}

#define CONV2D_MMA(NAME, BM, KH, KW, OP)                                                                     \
    extern "C" __global__ void __launch_bounds__(256, BM == 64 ? 2 : 1) NAME(                                                  \
            const float* x, const unsigned short* w, const float* bias, float* out, int n, int c, int h,     \
            int wd, int o, int kh, int kw, int stride, int padTop, int padLeft, int oh, int ow,              \
            const float* residual, long long rn, long long rc, long long rp) {                               \
        conv2d_igemm_mma<BM, KH, KW, OP>(x, w, bias, out, n, c, h, wd, o, kh, kw, stride, padTop, padLeft,  \
                                         oh, ow, residual, rn, rc, rp);                                      \
    }

CONV2D_MMA(conv2d_mma_64_k1_f16, 64, 1, 1, OpF16)
CONV2D_MMA(conv2d_mma_64_k3_f16, 64, 3, 3, OpF16)
CONV2D_MMA(conv2d_mma_64_kn_f16, 64, 0, 0, OpF16)
CONV2D_MMA(conv2d_mma_128_k1_f16, 128, 1, 1, OpF16)
CONV2D_MMA(conv2d_mma_128_k3_f16, 128, 3, 3, OpF16)
CONV2D_MMA(conv2d_mma_128_kn_f16, 128, 0, 0, OpF16)
CONV2D_MMA(conv2d_mma_64_k1_bf16, 64, 1, 1, OpBF16)
CONV2D_MMA(conv2d_mma_64_k3_bf16, 64, 3, 3, OpBF16)
CONV2D_MMA(conv2d_mma_64_kn_bf16, 64, 0, 0, OpBF16)
CONV2D_MMA(conv2d_mma_128_k1_bf16, 128, 1, 1, OpBF16)
CONV2D_MMA(conv2d_mma_128_k3_bf16, 128, 3, 3, OpBF16)
CONV2D_MMA(conv2d_mma_128_kn_bf16, 128, 0, 0, OpBF16)
