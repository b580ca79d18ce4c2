// The batched matrix product of gemm.cu on tensor cores (mma_tile.cuh), for the CudaBackend's FP16 and
// BF16 modes: A (activations, F32) is rounded to fp16/bf16 while staged, B is either F32 rounded the
// same way or already 16-bit in the operand type (a weight converted once on the device); accumulation,
// bias, activation and C stay fp32. A module of its own, so the fp32 mode never JIT-compiles it.
#include "common.cuh"
#include "gemm_operands.cuh"
#include "mma_tile.cuh"

// Tensor-core variants: tile (128 or 64 square), memory order as above, B's element type (F32 rounded
// while staged, or 16-bit) and operand type (f16, bf16).
template <int BM, bool AK, bool BN, bool B16, class Op>
__device__ __forceinline__ void gemm_batched_mma(int M, int N, int K, const float* a, const void* b, const float* bias,
                                                 float* c, long long sam, long long sak, long long sbk, long long sbn,
                                                 int batchRank, const Dims& batchShape, const Dims& aBatch,
                                                 const Dims& bBatch, int act, const float* residual) {
    // Unrolled over every rank so that the Dims are indexed statically (read as parameters, not copied to
    // local memory).
    long long rest = blockIdx.z, ao = 0, bo = 0;
#pragma unroll
    for (int d = LDM4J_MAX_RANK - 1; d >= 0; d--) {
        if (d < batchRank) {
            long long i = rest % batchShape.v[d];
            rest /= batchShape.v[d];
            ao += i * aBatch.v[d];
            bo += i * bBatch.v[d];
        }
    }
    Rounded<StridedA<AK>, Op> la{{a + ao, sam, sak}};
    long long co = (long long) blockIdx.z * M * N;
    BiasActStore st{c + co, bias, N, act, residual ? residual + co : nullptr};
    if constexpr (B16) {
        StridedB16<BN> lb{static_cast<const unsigned short*>(b) + bo, sbk, sbn};
        mma_tile<BM, BM, 32, Op>(M, N, K, blockIdx.y * BM, blockIdx.x * BM, la, lb, st);
    } else {
        Rounded<StridedB<BN>, Op> lb{{static_cast<const float*>(b) + bo, sbk, sbn}};
        mma_tile<BM, BM, 32, Op>(M, N, K, blockIdx.y * BM, blockIdx.x * BM, la, lb, st);
    }
}

#define GEMM_MMA(NAME, BM, AK, BN, B16, OP)                                                                  \
    extern "C" __global__ void __launch_bounds__(256, BM == 64 ? 2 : 1) NAME(                                                  \
            int M, int N, int K, const float* a, const void* b, const float* bias, float* c, long long sam,  \
            long long sak, long long sbk, long long sbn, int batchRank, Dims batchShape, Dims aBatch,        \
            Dims bBatch, int act, const float* residual) {                                                   \
        gemm_batched_mma<BM, AK, BN, B16, OP>(M, N, K, a, b, bias, c, sam, sak, sbk, sbn, batchRank,        \
                                              batchShape, aBatch, bBatch, act, residual);                    \
    }

// linear + GEGLU: x [M, K] (F32, rounded while staged) times the 16-bit weight w [N, K] as loaded (N = 2F,
// read with its value and gate rows interleaved, GegluB16), bias [N] as loaded -> out [M, F].
template <int BM, class Op>
__device__ __forceinline__ void gemm_geglu_mma(int M, int N, int K, const float* a, const unsigned short* w,
                                               const float* bias, float* out) {
    Rounded<StridedA<true>, Op> la{{a, (long long) K, 1}};
    GegluB16 lb{w, (long long) K, N / 2};
    GegluStore st{out, bias, N / 2};
    mma_tile<BM, BM, 32, Op>(M, N, K, blockIdx.y * BM, blockIdx.x * BM, la, lb, st);
}

#define GEMM_GEGLU_MMA(NAME, BM, OP)                                                                         \
    extern "C" __global__ void __launch_bounds__(256, BM == 64 ? 2 : 1) NAME(                                \
            int M, int N, int K, const float* a, const unsigned short* w, const float* bias, float* out) {   \
        gemm_geglu_mma<BM, OP>(M, N, K, a, w, bias, out);                                                    \
    }

GEMM_GEGLU_MMA(gemm_geglu_mma_128_f16, 128, OpF16)
GEMM_GEGLU_MMA(gemm_geglu_mma_64_f16, 64, OpF16)
GEMM_GEGLU_MMA(gemm_geglu_mma_128_bf16, 128, OpBF16)
GEMM_GEGLU_MMA(gemm_geglu_mma_64_bf16, 64, OpBF16)

#define GEMM_MMA_ORDERS(BM, B16, BT, OP, T)                                        \
    GEMM_MMA(gemm_mma_##BM##_ak_bn_##BT##_##T, BM, true, true, B16, OP)           \
    GEMM_MMA(gemm_mma_##BM##_ak_bk_##BT##_##T, BM, true, false, B16, OP)          \
    GEMM_MMA(gemm_mma_##BM##_am_bn_##BT##_##T, BM, false, true, B16, OP)          \
    GEMM_MMA(gemm_mma_##BM##_am_bk_##BT##_##T, BM, false, false, B16, OP)

GEMM_MMA_ORDERS(128, false, bf32, OpF16, f16)
GEMM_MMA_ORDERS(128, true, b16, OpF16, f16)
GEMM_MMA_ORDERS(64, false, bf32, OpF16, f16)
GEMM_MMA_ORDERS(64, true, b16, OpF16, f16)
GEMM_MMA_ORDERS(128, false, bf32, OpBF16, bf16)
GEMM_MMA_ORDERS(128, true, b16, OpBF16, bf16)
GEMM_MMA_ORDERS(64, false, bf32, OpBF16, bf16)
GEMM_MMA_ORDERS(64, true, b16, OpBF16, bf16)
