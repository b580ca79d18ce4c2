// Batched fp32 matrix product with fused bias and activation:
//   C[b, m, n] = act(sum_k A[b, m, k] B[b, k, n] + bias[n])
// A and B are read through element strides (so transposed weights, e.g. a linear layer's w [N, K], need
// no copy) and broadcast batch strides (0 on a broadcast batch dimension); C is dense [batch, M, N].
// Two tile sizes: 64 (small or skinny problems, more blocks) and 128 (large problems, more reuse).
#include "common.cuh"
#include "gemm_tile.cuh"

struct StridedA {
    const float* p;
    long long sm, sk;
    bool kFast;
    __device__ float operator()(int m, int k) const { return p[m * sm + k * sk]; }
};

struct StridedB {
    const float* p;
    long long sk, sn;
    bool nFast;
    __device__ float operator()(int k, int n) const { return p[k * sk + n * sn]; }
};

struct BiasActStore {
    float* c;
    const float* bias;
    int n, act;
    __device__ void operator()(int m, int j, float v) const {
        if (bias) v += bias[j];
        c[(long long) m * n + j] = apply_act(v, act);
    }
};

template <int BM, int BK>
__device__ __forceinline__ void gemm_batched(int M, int N, int K, const float* a, const float* b, const float* bias,
                                             float* c, long long sam, long long sak, long long sbk, long long sbn,
                                             int batchRank, const Dims& batchShape, const Dims& aBatch,
                                             const Dims& bBatch, int act) {
    long long rest = blockIdx.z, ao = 0, bo = 0;
    for (int d = batchRank - 1; d >= 0; d--) {
        long long i = rest % batchShape.v[d];
        rest /= batchShape.v[d];
        ao += i * aBatch.v[d];
        bo += i * bBatch.v[d];
    }
    StridedA la{a + ao, sam, sak, sak == 1};
    StridedB lb{b + bo, sbk, sbn, sbn == 1};
    BiasActStore st{c + (long long) blockIdx.z * M * N, bias, N, act};
    gemm_tile<BM, BK>(M, N, K, blockIdx.y * BM, blockIdx.x * BM, la, lb, st);
}

extern "C" __global__ void __launch_bounds__(256) gemm_64_f32(
        int M, int N, int K, const float* a, const float* b, const float* bias, float* c, long long sam, long long sak,
        long long sbk, long long sbn, int batchRank, Dims batchShape, Dims aBatch, Dims bBatch, int act) {
    gemm_batched<64, 16>(M, N, K, a, b, bias, c, sam, sak, sbk, sbn, batchRank, batchShape, aBatch, bBatch, act);
}

extern "C" __global__ void __launch_bounds__(256) gemm_128_f32(
        int M, int N, int K, const float* a, const float* b, const float* bias, float* c, long long sam, long long sak,
        long long sbk, long long sbn, int batchRank, Dims batchShape, Dims aBatch, Dims bBatch, int act) {
    gemm_batched<128, 8>(M, N, K, a, b, bias, c, sam, sak, sbk, sbn, batchRank, batchShape, aBatch, bBatch, act);
}
