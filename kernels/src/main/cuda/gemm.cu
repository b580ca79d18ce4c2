// Batched fp32 matrix product with fused bias, activation and residual:
//   C[b, m, n] = act(sum_k A[b, m, k] B[b, k, n] + bias[n]) + R[b, m, n]   (R optional, dense like C)
// A and B are read through element strides (so transposed weights, e.g. a linear layer's w [N, K], need
// no copy) and broadcast batch strides (0 on a broadcast batch dimension); C is dense [batch, M, N].
// Two tile sizes: 64 (small or skinny problems, more blocks) and 128 (large problems, more reuse).
#include "common.cuh"
#include "gemm_operands.cuh"
#include "gemm_tile.cuh"

template <int BM, int BK, bool AK, bool BN>
__device__ __forceinline__ void gemm_batched(int M, int N, int K, const float* a, const float* b, const float* bias,
                                             float* c, long long sam, long long sak, long long sbk, long long sbn,
                                             int batchRank, const Dims& batchShape, const Dims& aBatch,
                                             const Dims& bBatch, int act, const float* residual) {
    long long rest = blockIdx.z, ao = 0, bo = 0;
    for (int d = batchRank - 1; d >= 0; d--) {
        long long i = rest % batchShape.v[d];
        rest /= batchShape.v[d];
        ao += i * aBatch.v[d];
        bo += i * bBatch.v[d];
    }
    StridedA<AK> la{a + ao, sam, sak};
    StridedB<BN> lb{b + bo, sbk, sbn};
    long long co = (long long) blockIdx.z * M * N;
    BiasActStore st{c + co, bias, N, act, residual ? residual + co : nullptr};
    gemm_tile<BM, BK>(M, N, K, blockIdx.y * BM, blockIdx.x * BM, la, lb, st);
}

// One kernel per tile size and memory order: A_K (A's k index contiguous, e.g. activations) or A_M, and
// B_N (B's n index contiguous, e.g. a [K, N] matrix) or B_K (e.g. a linear layer's weight [N, K]). The
// order only decides which index consecutive threads load; any strides give the right result.
#define GEMM(NAME, BM, BK, AK, BN)                                                                           \
    extern "C" __global__ void __launch_bounds__(256) NAME(                                                  \
            int M, int N, int K, const float* a, const float* b, const float* bias, float* c, long long sam, \
            long long sak, long long sbk, long long sbn, int batchRank, Dims batchShape, Dims aBatch,        \
            Dims bBatch, int act, const float* residual) {                                                   \
        gemm_batched<BM, BK, AK, BN>(M, N, K, a, b, bias, c, sam, sak, sbk, sbn, batchRank, batchShape,     \
                                     aBatch, bBatch, act, residual);                                         \
    }

GEMM(gemm_64_ak_bn_f32, 64, 16, true, true)
GEMM(gemm_64_ak_bk_f32, 64, 16, true, false)
GEMM(gemm_64_am_bn_f32, 64, 16, false, true)
GEMM(gemm_64_am_bk_f32, 64, 16, false, false)
GEMM(gemm_128_ak_bn_f32, 128, 8, true, true)
GEMM(gemm_128_ak_bk_f32, 128, 8, true, false)
GEMM(gemm_128_am_bn_f32, 128, 8, false, true)
GEMM(gemm_128_am_bk_f32, 128, 8, false, false)
