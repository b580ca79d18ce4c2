// Fused multi-head attention, fp32, with the online softmax of FlashAttention (Dao et al. 2022,
// arXiv:2205.14135, Algorithm 1): the [Lq, Lk] score matrix is never written to memory.
//
// Layout (token-major, as the linear layers produce it): q [B, Lq, H*D], k and v [B, Lk, H*D], head h
// in columns h*D .. h*D+D-1; rows are read through a token stride and a batch stride, so views of a
// fused projection need no copy. out [B, Lq, H*D] dense.
//
// One block of 256 threads per (64 queries, batch b, head h). Thread (ty = tid / 8, tx = tid % 8) owns
// query rows 2ty and 2ty+1. For each slice of 32 keys staged in shared memory, it computes scores for
// keys tx + 8j (j < 4), the 8 threads of a row (consecutive lanes) combine their row maximum and sum
// with shuffles, and each thread then updates its output columns tx + 8j (j < DC) of those two rows:
//   m' = max(m, max_j s_j);  l' = l e^(m - m') + sum_j e^(s_j - m');  o' = o e^(m - m') + sum_j e^(s_j - m') v_j
// and finally writes o / l. Causal: query i sees keys j <= i; key slices past the block's last query
// are skipped. Shared memory (dynamic): Q [64][D+1], K [32][D+1], V [32][D+1], P [64][33].
#include "common.cuh"

#define ATT_BQ 64
#define ATT_BK 32

template <int DC>
__device__ __forceinline__ void attention_block(const float* q, const float* k, const float* v, float* out, int lq,
                                                int lk, int heads, int d, long long qRow, long long qBatch,
                                                long long kRow, long long kBatch, long long vRow, long long vBatch,
                                                float scale, int causal) {
    extern __shared__ float smem[];
    const int ld = d + 1;
    float* qs = smem;
    float* ks = qs + ATT_BQ * ld;
    float* vs = ks + ATT_BK * ld;
    float* ps = vs + ATT_BK * ld;
    const int ldp = ATT_BK + 1;

    const int b = blockIdx.y / heads, h = blockIdx.y % heads;
    const int q0 = blockIdx.x * ATT_BQ;
    const int tid = threadIdx.x, tx = tid & 7, ty = tid >> 3;
    const int r0 = 2 * ty;
    const long long hd = (long long) heads * d;

    const float* qb = q + b * qBatch + (long long) h * d;
    const float* kb = k + b * kBatch + (long long) h * d;
    const float* vb = v + b * vBatch + (long long) h * d;

    for (int e = tid; e < ATT_BQ * d; e += blockDim.x) {
        int r = e / d, c = e - r * d, qi = q0 + r;
        qs[r * ld + c] = qi < lq ? qb[qi * qRow + c] * scale : 0.0f;
    }

    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    float acc[2][DC];
#pragma unroll
    for (int j = 0; j < DC; j++) acc[0][j] = acc[1][j] = 0.0f;

    const int kEnd = causal ? min(lk, q0 + ATT_BQ) : lk;
    for (int k0 = 0; k0 < kEnd; k0 += ATT_BK) {
        __syncthreads();
        for (int e = tid; e < ATT_BK * d; e += blockDim.x) {
            int r = e / d, c = e - r * d, kj = k0 + r;
            bool in = kj < lk;
            ks[r * ld + c] = in ? kb[kj * kRow + c] : 0.0f;
            vs[r * ld + c] = in ? vb[kj * vRow + c] : 0.0f;
        }
        __syncthreads();

        float s[2][4];
#pragma unroll
        for (int i = 0; i < 2; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) s[i][j] = 0.0f;
        for (int c = 0; c < d; c++) {
            float qa = qs[r0 * ld + c], qc = qs[(r0 + 1) * ld + c];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float kv = ks[(tx + 8 * j) * ld + c];
                s[0][j] = fmaf(qa, kv, s[0][j]);
                s[1][j] = fmaf(qc, kv, s[1][j]);
            }
        }
#pragma unroll
        for (int i = 0; i < 2; i++) {
            int qi = q0 + r0 + i;
            float mx = -INFINITY;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                int kj = k0 + tx + 8 * j;
                if (kj >= lk || (causal && kj > qi)) s[i][j] = -INFINITY;
                mx = fmaxf(mx, s[i][j]);
            }
            for (int o = 1; o < 8; o <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
            float mNew = fmaxf(m[i], mx);
            float alpha = mNew == -INFINITY ? 1.0f : expf(m[i] - mNew);
            float rs = 0.0f;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float p = mNew == -INFINITY ? 0.0f : expf(s[i][j] - mNew);
                ps[(r0 + i) * ldp + tx + 8 * j] = p;
                rs += p;
            }
            for (int o = 1; o < 8; o <<= 1) rs += __shfl_xor_sync(0xffffffffu, rs, o);
            l[i] = l[i] * alpha + rs;
            m[i] = mNew;
#pragma unroll
            for (int j = 0; j < DC; j++) acc[i][j] *= alpha;
        }
        __syncwarp();
        for (int c = 0; c < ATT_BK; c++) {
            float p0 = ps[r0 * ldp + c], p1 = ps[(r0 + 1) * ldp + c];
#pragma unroll
            for (int j = 0; j < DC; j++) {
                int col = tx + 8 * j;
                if (col < d) {
                    float vv = vs[c * ld + col];
                    acc[0][j] = fmaf(p0, vv, acc[0][j]);
                    acc[1][j] = fmaf(p1, vv, acc[1][j]);
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < 2; i++) {
        int qi = q0 + r0 + i;
        if (qi >= lq) continue;
        float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
        float* orow = out + ((long long) b * lq + qi) * hd + (long long) h * d;
#pragma unroll
        for (int j = 0; j < DC; j++) {
            int col = tx + 8 * j;
            if (col < d) orow[col] = acc[i][j] * inv;
        }
    }
}

#define ATTENTION(NAME, DC)                                                                                  \
    extern "C" __global__ void __launch_bounds__(256) NAME(                                                  \
            const float* q, const float* k, const float* v, float* out, int lq, int lk, int heads, int d,    \
            long long qRow, long long qBatch, long long kRow, long long kBatch, long long vRow,              \
            long long vBatch, float scale, int causal) {                                                     \
        attention_block<DC>(q, k, v, out, lq, lk, heads, d, qRow, qBatch, kRow, kBatch, vRow, vBatch, scale, \
                            causal);                                                                         \
    }

// Head dims up to 64, 128 and 256 (8, 16 and 32 output columns per thread and row).
ATTENTION(attention_d64_f32, 8)
ATTENTION(attention_d128_f32, 16)
ATTENTION(attention_d256_f32, 32)
