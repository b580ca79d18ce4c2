// Fused multi-head attention on tensor cores, for the CudaBackend's FP16 and BF16 modes: the online
// softmax of FlashAttention-2 (Dao 2023, arXiv:2307.08691, Algorithm 1) with both products on
// mma.sync (fp16/bf16 operands, fp32 accumulation); the [Lq, Lk] scores never leave registers.
//
// attention_pack_*: q, k or v (F32, token-major [B, L, H*D] through a row and a batch stride, head h in
// columns h*D..h*D+D-1) -> a dense 16-bit [B*H, L, D] copy, rounded to nearest even. Packing once costs
// one pass over q, k and v, and lets every query block stream K and V with 16-byte cp.async copies.
//
// attention_mma_dD_*: one block of WARPS warps per (16*WARPS queries, batch b, head h); warp w owns
// query rows 16w..16w+15 of the block. Its Q fragments are loaded once (ldmatrix). K and V advance in
// tiles of 64 keys, double-buffered in shared memory (cp.async; rows past Lk are zero-filled). Per tile:
//   S = Q K^T          [16 x 64]: 8 accumulator fragments, K as the col-major B operand (ldmatrix)
//   x = S scale log2(e), masked to -inf past Lk (and above the diagonal when causal)
//   m' = max(m, rowmax x); p = 2^(x - m'); l = l 2^(m - m') + rowsum p; O = O 2^(m - m') + P V
// where P is re-used from the S accumulators as the A operand (the m16n8 C layout of two adjacent
// 8-key fragments is the A layout of one 16-key slice) and V comes through ldmatrix.trans. Finally
// O / l is written as F32 to out [B, Lq, H*D]. Head dims must be multiples of 8: Q K^T takes D in
// k-steps of 16 plus one m16n8k8 step when D % 16 == 8 (D = 40, 80), and P V has D / 8 output
// fragments, so no padded columns are computed. Shared-memory rows are D 16-bit values, padded by 8 when
// D / 8 is even, so the 8 rows of an ldmatrix fall in 8 different 16-byte bank groups.
#include "common.cuh"
#include "mma_tile.cuh"
#include "ptx_ops.cuh"

#define ATT_KT 64  // keys per tile

template <class Op>
__device__ __forceinline__ void attention_pack(const float* src, unsigned short* dst, int l, int heads, int d,
                                               long long rowStride, long long batchStride, long long total) {
    // Four consecutive columns per step (d % 8 == 0): one 8-byte store.
    for (long long e = 4 * ((long long) blockIdx.x * blockDim.x + threadIdx.x); e < total;
         e += 4LL * gridDim.x * blockDim.x) {
        long long row = e / d;
        int c = (int) (e - row * d);
        int i = (int) (row % l);
        long long bh = row / l;
        int h = (int) (bh % heads);
        long long b = bh / heads;
        const float* s = src + b * batchStride + i * rowStride + (long long) h * d + c;
        unsigned lo = Op::round(s[0]) | ((unsigned) Op::round(s[1]) << 16);
        unsigned hi = Op::round(s[2]) | ((unsigned) Op::round(s[3]) << 16);
        *reinterpret_cast<uint2*>(dst + e) = make_uint2(lo, hi);
    }
}

// Two floats as one register of 16-bit operands, the first in the low half.
template <class Op>
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
    return Op::round(lo) | ((unsigned) Op::round(hi) << 16);
}

template <int D, int WARPS, class Op>
__device__ __forceinline__ void attention_mma_block(const unsigned short* q, const unsigned short* k,
                                                    const unsigned short* v, float* out, int lq, int lk, int heads,
                                                    float scaleLog2, int causal) {
    static_assert(D % 8 == 0 && D <= 256, "head dim must be a multiple of 8");
    constexpr int BQ = 16 * WARPS;
    constexpr int CH = D / 8;                     // 16-byte chunks per row
    constexpr int LD = CH % 2 == 1 ? D : D + 8;   // shared row length in 16-bit values
    constexpr int KS = D / 16;                    // full k-steps of Q K^T
    constexpr bool TAIL = D % 16 == 8;            // one more k8 step
    constexpr int NO = D / 8;                     // output fragments of P V
    constexpr int THREADS = 32 * WARPS;

    LDM4J_DYNAMIC_SHARED(unsigned short, smem);
    unsigned short* qs = smem;                    // [BQ][LD]
    unsigned short* ks = qs + BQ * LD;            // [2][ATT_KT][LD]
    unsigned short* vs = ks + 2 * ATT_KT * LD;    // [2][ATT_KT][LD]

    const int bh = blockIdx.y, b = bh / heads, h = bh % heads;
    const int q0 = blockIdx.x * BQ;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
    const unsigned short* qb = q + (long long) bh * lq * D;
    const unsigned short* kb = k + (long long) bh * lk * D;
    const unsigned short* vb = v + (long long) bh * lk * D;

    // rows [r0, r0 + rows) of a packed [L][D] matrix (L rows in all) -> shared rows 0.., zero past L.
    auto stage = [&](unsigned short* dst, const unsigned short* src, int r0, int rows, int total) {
        for (int e = tid; e < rows * CH; e += THREADS) {
            int r = e / CH, c = e - r * CH;
            bool in = r0 + r < total;
            cp_async16(dst + r * LD + 8 * c, src + (long long) (in ? r0 + r : 0) * D + 8 * c, in ? 16 : 0);
        }
    };
    const int kEnd = causal ? min(lk, q0 + BQ) : lk;
    const int tiles = (kEnd + ATT_KT - 1) / ATT_KT;
    stage(qs, qb, q0, BQ, lq);
    if (tiles > 0) {
        stage(ks, kb, 0, ATT_KT, lk);
        stage(vs, vb, 0, ATT_KT, lk);
    }
    cp_async_commit();

    unsigned qf[KS > 0 ? KS : 1][4], qt[2];
    float o[NO][4];
#pragma unroll
    for (int j = 0; j < NO; j++) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    const int qrow0 = q0 + 16 * warp + g;  // this thread's rows: qrow0 and qrow0 + 8

    for (int it = 0; it < tiles; it++) {
        const int k0 = it * ATT_KT, buf = it & 1;
        if (it + 1 < tiles) {
            stage(ks + (buf ^ 1) * ATT_KT * LD, kb, k0 + ATT_KT, ATT_KT, lk);
            stage(vs + (buf ^ 1) * ATT_KT * LD, vb, k0 + ATT_KT, ATT_KT, lk);
        }
        cp_async_commit();
        cp_async_wait<1>();  // all but the group just issued: this tile (and Q) have landed
        __syncthreads();
        if (it == 0) {
            const unsigned short* qw = qs + (16 * warp + (lane & 15)) * LD;
#pragma unroll
            for (int s = 0; s < KS; s++) ldmatrix_x4(qf[s], qw + 16 * s + 8 * (lane >> 4));
            if constexpr (TAIL) ldmatrix_x2(qt, qw + 16 * KS);
        }
        const unsigned short* kt = ks + buf * ATT_KT * LD;
        const unsigned short* vt = vs + buf * ATT_KT * LD;

        // S = Q K^T: key fragments j (keys k0 + 8j..), two at a time.
        float s[8][4];
#pragma unroll
        for (int j = 0; j < 8; j++) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
        for (int j = 0; j < 8; j += 2) {
            // matrix i = lane / 8: keys 8j + 8 (i / 2) + (lane % 8), columns + 8 (i % 2)
            const unsigned short* kr = kt + (8 * j + 8 * (lane >> 4) + (lane & 7)) * LD + 8 * ((lane >> 3) & 1);
#pragma unroll
            for (int st = 0; st < KS; st++) {
                unsigned bf[4];
                ldmatrix_x4(bf, kr + 16 * st);
                const unsigned b0[2] = {bf[0], bf[1]}, b1[2] = {bf[2], bf[3]};
                Op::mma(s[j], qf[st], b0);
                Op::mma(s[j + 1], qf[st], b1);
            }
            if constexpr (TAIL) {
                unsigned bf[2];
                // matrix i = lane / 8 (lanes 0..15): keys 8j + 8i + (lane % 8), columns 16 KS..
                ldmatrix_x2(bf, kt + (8 * j + (lane & 15)) * LD + 16 * KS);
                Op::mma_k8(s[j], qt, bf[0]);
                Op::mma_k8(s[j + 1], qt, bf[1]);
            }
        }

        // Online softmax over this tile, rows qrow0 (registers 0, 1) and qrow0 + 8 (2, 3).
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) {
                int key = k0 + 8 * j + 2 * t + (r & 1), qi = qrow0 + 8 * (r >> 1);
                float x = s[j][r] * scaleLog2;
                if (key >= lk || (causal && key > qi)) x = -INFINITY;
                s[j][r] = x;
                mx[r >> 1] = fmaxf(mx[r >> 1], x);
            }
        float alpha[2];
#pragma unroll
        for (int i = 0; i < 2; i++) {
            mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 1));
            mx[i] = fmaxf(mx[i], __shfl_xor_sync(0xffffffffu, mx[i], 2));
            float mNew = fmaxf(m[i], mx[i]);
            alpha[i] = mNew == -INFINITY ? 1.0f : exp2f(m[i] - mNew);
            m[i] = mNew;
        }
        float rs[2] = {0.0f, 0.0f};
#pragma unroll
        for (int j = 0; j < 8; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) {
                float mi = m[r >> 1];
                float p = mi == -INFINITY ? 0.0f : exp2f(s[j][r] - mi);
                s[j][r] = p;
                rs[r >> 1] += p;
            }
#pragma unroll
        for (int i = 0; i < 2; i++) l[i] = l[i] * alpha[i] + rs[i];
#pragma unroll
        for (int j = 0; j < NO; j++) {
            o[j][0] *= alpha[0];
            o[j][1] *= alpha[0];
            o[j][2] *= alpha[1];
            o[j][3] *= alpha[1];
        }

        // O += P V: keys in slices of 16 (P from fragments 2ks and 2ks + 1), output columns 8n...
#pragma unroll
        for (int kk = 0; kk < ATT_KT / 16; kk++) {
            const unsigned pa[4] = {pack2<Op>(s[2 * kk][0], s[2 * kk][1]), pack2<Op>(s[2 * kk][2], s[2 * kk][3]),
                                    pack2<Op>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                    pack2<Op>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
            // matrix i = lane / 8: keys 16kk + 8 (i % 2) + (lane % 8), columns 8n + 8 (i / 2)
            const unsigned short* vr = vt + (16 * kk + (lane & 15)) * LD + 8 * (lane >> 4);
#pragma unroll
            for (int n = 0; n + 1 < NO; n += 2) {
                unsigned bf[4];
                ldmatrix_x4_trans(bf, vr + 8 * n);
                const unsigned b0[2] = {bf[0], bf[1]}, b1[2] = {bf[2], bf[3]};
                Op::mma(o[n], pa, b0);
                Op::mma(o[n + 1], pa, b1);
            }
            if constexpr (NO % 2 == 1) {
                unsigned bf[2];
                ldmatrix_x2_trans(bf, vt + (16 * kk + (lane & 15)) * LD + 8 * (NO - 1));
                Op::mma(o[NO - 1], pa, bf);
            }
        }
        __syncthreads();  // this buffer is refilled by the next iteration's copies
    }
    cp_async_wait<0>();

#pragma unroll
    for (int i = 0; i < 2; i++) {
        l[i] += __shfl_xor_sync(0xffffffffu, l[i], 1);
        l[i] += __shfl_xor_sync(0xffffffffu, l[i], 2);
    }
    const long long hd = (long long) heads * D;
#pragma unroll
    for (int i = 0; i < 2; i++) {
        int qi = qrow0 + 8 * i;
        if (qi >= lq) continue;
        float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
        float* orow = out + ((long long) b * lq + qi) * hd + (long long) h * D + 2 * t;
#pragma unroll
        for (int n = 0; n < NO; n++)
            *reinterpret_cast<float2*>(orow + 8 * n) = make_float2(o[n][2 * i] * inv, o[n][2 * i + 1] * inv);
    }
}

#define ATTENTION_PACK(NAME, OP)                                                                             \
    extern "C" __global__ void __launch_bounds__(256) NAME(const float* src, unsigned short* dst, int l,     \
                                                           int heads, int d, long long rowStride,           \
                                                           long long batchStride, long long total) {        \
        attention_pack<OP>(src, dst, l, heads, d, rowStride, batchStride, total);                            \
    }

#define ATTENTION_MMA(NAME, D, WARPS, OP)                                                                    \
    extern "C" __global__ void __launch_bounds__(32 * WARPS) NAME(                                           \
            const unsigned short* q, const unsigned short* k, const unsigned short* v, float* out, int lq,   \
            int lk, int heads, float scaleLog2, int causal) {                                                \
        attention_mma_block<D, WARPS, OP>(q, k, v, out, lq, lk, heads, scaleLog2, causal);                   \
    }

ATTENTION_PACK(attention_pack_f16, OpF16)
ATTENTION_PACK(attention_pack_bf16, OpBF16)

// SD's head dims: 40, 80, 160 (SD 1.x, by level), 64 (SD 2.x, CLIP). 4 warps (64 queries) for 160,
// whose fragments fill the registers; 8 warps (128 queries) otherwise.
ATTENTION_MMA(attention_mma_d40_f16, 40, 8, OpF16)
ATTENTION_MMA(attention_mma_d64_f16, 64, 8, OpF16)
ATTENTION_MMA(attention_mma_d80_f16, 80, 8, OpF16)
ATTENTION_MMA(attention_mma_d160_f16, 160, 4, OpF16)
ATTENTION_MMA(attention_mma_d40_bf16, 40, 8, OpBF16)
ATTENTION_MMA(attention_mma_d64_bf16, 64, 8, OpBF16)
ATTENTION_MMA(attention_mma_d80_bf16, 80, 8, OpBF16)
ATTENTION_MMA(attention_mma_d160_bf16, 160, 4, OpBF16)
