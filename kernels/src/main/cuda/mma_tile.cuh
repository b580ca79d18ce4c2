// The tensor-core matrix-product core (fp16 or bf16 operands, fp32 accumulation) used by gemm_mma.cu and
// conv2d_mma.cu in the CudaBackend's FP16/BF16 modes.
//
// A block of 256 threads (8 warps, 2 along M x 4 along N) computes a BM x BN tile of C = A B, stepping
// through K in slices of BK = 32. Each slice of A (BM x BK) and of B (BK x BN) is staged in shared memory
// as 16-bit values in two buffers (stages): while the warps multiply one slice, the next is being fetched
// into the other, with one barrier per slice.
//
// Staging (Stager below). An operand is laid out in shared memory the way it lies in global memory:
// k-contiguous ([row][k], rows of BK + 8 values) when its loader's contiguous direction is k (A with
// kFast, B without nFast), else row-contiguous ([k][row], BR + 8 values; row = m for A, n for B). Each
// thread moves chunks of V consecutive elements along that contiguous direction, consecutive threads
// taking consecutive chunks, so a chunk is contiguous both in global and in shared memory:
//   - 16-bit operands (weights already in the operand type): V = 8, one 16-byte cp.async per chunk
//     (global -> shared without registers, bytes past K/M/N zero-filled). The loader's vecOk() says per
//     launch whether every chunk is 16-byte aligned (contiguous stride 1, other stride a multiple of 8,
//     aligned base); otherwise (e.g. conv_in's K = 36) the chunk is read with scalar loads and stored
//     with one 16-byte store.
//   - F32 operands (activations, rounded to nearest even into the operand type): V = 4, one float4 load
//     per chunk when vecOk() and the chunk lies inside the matrix, else four scalar loads; rounded in
//     registers and stored as one 8-byte store.
//   - F32 operands with no vector form (conv patches, V = 1): one scalar load per element, consecutive
//     threads on consecutive output positions (coalesced for stride 1), 2-byte stores. For a kernel size
//     fixed at compile time the patch loader has taps (conv2d_operands.cuh): each element's offset and
//     tap bit depend on k only, so 32 threads compute them once per slice into a small shared table (two
//     slices ahead, double-buffered) and a load is a mask test and an add.
// F32 values are fetched into registers before the current slice's mma work and stored after it, so the
// loads overlap the arithmetic; cp.async copies need no registers.
//
// Each warp owns a WM x WN sub-tile of (WM/16) x (WN/8) accumulator fragments and issues
// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: D[16x8] += A[16x16] B[16x8]. Fragment layout
// (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type"), with g = lane / 4 and
// t = lane % 4: A regs {a0..a3} hold A[g][2t..2t+1], A[g+8][2t..], A[g][2t+8..], A[g+8][2t+8..];
// B regs {b0, b1} hold B[2t..2t+1][g], B[2t+8..2t+9][g]; C holds C[g][2t..2t+1], C[g+8][2t..2t+1].
// Fragments come from shared memory with ldmatrix.x4 (four 8x8 matrices per instruction, lanes 8i..8i+7
// giving the row addresses of matrix i; PTX ISA, "ldmatrix"): a k-contiguous tile gives A or B
// fragments directly, a row-contiguous one through .trans. Rows of 40 (k-contiguous) or 72/136
// (row-contiguous) 16-bit values are 5, 9 or 17 16-byte units long, an odd number, so the eight row
// addresses of one 8x8 matrix fall in eight different 16-byte bank groups: no bank conflicts.
// The epilogue writes each accumulator pair with one 8-byte store (store_run from gemm_tile.cuh), or, for
// a Store with kPairs (GEGLU), hands the pair of adjacent columns to Store::pair.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "gemm_tile.cuh"
#include "ptx_ops.cuh"

// Operand types: the rounding of a float to the type's 16-bit pattern and the mma instruction.
struct OpF16 {
    static __device__ __forceinline__ unsigned short round(float x) { return __half_as_ushort(__float2half_rn(x)); }
    static __device__ __forceinline__ void mma(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) { mma_f16(d, a, b); }
    static __device__ __forceinline__ void mma_k8(float (&d)[4], const unsigned (&a)[2], unsigned b) { mma_k8_f16(d, a, b); }
};

struct OpBF16 {
    static __device__ __forceinline__ unsigned short round(float x) { return __bfloat16_as_ushort(__float2bfloat16_rn(x)); }
    static __device__ __forceinline__ void mma(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) { mma_bf16(d, a, b); }
    static __device__ __forceinline__ void mma_k8(float (&d)[4], const unsigned (&a)[2], unsigned b) { mma_k8_bf16(d, a, b); }
};

// An F32 loader (gemm_tile.cuh's interface) whose elements are rounded to the operand type Op.
template <class L, class Op>
struct Rounded : L {
    using Raw = float;
    static __device__ __forceinline__ unsigned short to16(float x) { return Op::round(x); }
};

// The two operands seen alike by the stager: row r is m for A (la.row) and n for B (lb.col), and the
// tile is k-contiguous when the loader's contiguous direction is k.
template <class L>
struct RowsOfA {
    static constexpr bool kContig = L::kFast;
    static __device__ __forceinline__ auto handle(const L& l, int m) { return l.row(m); }
};
template <class L>
struct ColsOfB {
    static constexpr bool kContig = !L::nFast;
    static __device__ __forceinline__ auto handle(const L& l, int n) { return l.col(n); }
};

__device__ __forceinline__ unsigned pack16(unsigned short lo, unsigned short hi) { return lo | ((unsigned) hi << 16); }

// Stages one operand: BR rows x BK values of k per slice, for a block of 256 threads (see the header).
template <int BR, int BK, class L, class Side>
struct Stager {
    static constexpr bool KC = Side::kContig;
    static constexpr bool ASYNC = sizeof(typename L::Raw) == 2;  // 16-bit in memory: cp.async
    static constexpr int V = L::vec;
    static constexpr bool TAPS = L::taps;  // element offsets from a per-slice table (conv patches)
    static constexpr int LD = KC ? BK + 8 : BR + 8;  // row length in shared memory
    static constexpr int SIZE = KC ? BR * LD : BK * LD;
    static constexpr int ALONG = (KC ? BK : BR) / V;  // chunks along the contiguous direction
    static constexpr int CH = BR * BK / (V * 256);    // chunks per thread
    static_assert(!ASYNC || V == 8, "16-bit operands move in 16-byte chunks");
    static_assert(ASYNC || V == 1 || V == 4, "F32 operands move in chunks of 1 or 4");
    static_assert(CH >= 1 && BR * BK % (V * 256) == 0 && 256 % ALONG == 0, "tile too small for 256 threads");
    static_assert(!TAPS || (V == 1 && !KC && !ASYNC), "taps are for F32 row-contiguous element loads");
    using Handle = decltype(Side::handle(*static_cast<const L*>(nullptr), 0));

    const L& l;
    int r0, R, K;
    bool vec;
    int rr[CH], kk[CH];  // chunk origin in the tile: row offset, k offset
    Handle h[CH];        // V == 1: the loader's per-row state
    float raw[CH][V];    // F32: the fetched slice, until stored

    __device__ __forceinline__ Stager(const L& l_, int r0_, int R_, int K_, int tid) : l(l_), r0(r0_), R(R_), K(K_) {
        if constexpr (V > 1) vec = l.vecOk();
        else vec = false;
#pragma unroll
        for (int i = 0; i < CH; i++) {
            // Chunk c = tid + 256 i; as 256 % ALONG == 0, its position along the contiguous direction is
            // the thread's own for every i.
            const int along = (tid % ALONG) * V, across = tid / ALONG + i * (256 / ALONG);
            rr[i] = KC ? across : along;
            kk[i] = KC ? along : across;
            if constexpr (V == 1) h[i] = Side::handle(l, r0 + rr[i] < R ? r0 + rr[i] : 0);
        }
    }

    // The taps of two slices (TAPS only): {offset, tap bit} of each k of the slice.
    static __device__ __forceinline__ uint2* tap_table() {
        __shared__ uint2 table[2 * BK];
        return table;
    }

    // Computes the taps of slice k0 into buffer b (threads 0..BK-1, one k each); a barrier must separate
    // this from the fetch that reads them.
    __device__ __forceinline__ void prepare(int k0, int b, int tid) const {
        if constexpr (TAPS) {
            if (tid < BK) {
                const auto t = l.tap(k0 + tid, K);
                tap_table()[b * BK + tid] = make_uint2((unsigned) t.off, t.bit);
            }
        }
    }

    __device__ __forceinline__ int offset(int i) const { return KC ? rr[i] * LD + kk[i] : kk[i] * LD + rr[i]; }

    // Element u of chunk i at slice k0: row r, depth k.
    __device__ __forceinline__ auto load1(int r, int k) const { return l.load(Side::handle(l, r), k); }

    // Starts moving slice k0 into stage s: cp.async (or scalar loads and a direct store) for 16-bit
    // operands, loads into registers for F32 ones (TAPS: with the taps in buffer b).
    __device__ __forceinline__ void fetch(int k0, unsigned short* s, int b) {
#pragma unroll
        for (int i = 0; i < CH; i++) {
            const int r = r0 + rr[i], k = k0 + kk[i];
            const bool inside = KC ? r < R : k < K;    // the chunk's row/depth exists
            const int left = KC ? K - k : R - r;       // elements left along the contiguous direction
            if constexpr (ASYNC) {
                if (vec) {
                    const int bytes = inside ? 2 * max(0, min(8, left)) : 0;
                    // With no bytes to copy, the source is any valid address (nothing is read).
                    cp_async16(s + offset(i), bytes > 0 ? l.ptr(r, k) : l.ptr(0, 0), bytes);
                } else {
                    unsigned short v[8];
#pragma unroll
                    for (int u = 0; u < 8; u++)
                        v[u] = inside && u < left ? (KC ? load1(r, k + u) : load1(r + u, k)) : (unsigned short) 0;
                    *reinterpret_cast<uint4*>(s + offset(i)) =
                            make_uint4(pack16(v[0], v[1]), pack16(v[2], v[3]), pack16(v[4], v[5]), pack16(v[6], v[7]));
                }
            } else if constexpr (TAPS) {
                const uint2 t = tap_table()[b * BK + kk[i]];
                raw[i][0] = left > 0 ? l.load_tap(h[i], {(int) t.x, t.y}) : 0.0f;
            } else if constexpr (V == 1) {
                raw[i][0] = inside && left > 0 ? l.load(h[i], k) : 0.0f;
            } else {
                if (vec && inside && left >= V) {
                    const float4 f = *reinterpret_cast<const float4*>(l.ptr(r, k));
                    raw[i][0] = f.x;
                    raw[i][1] = f.y;
                    raw[i][2] = f.z;
                    raw[i][3] = f.w;
                } else {
#pragma unroll
                    for (int u = 0; u < V; u++) raw[i][u] = inside && u < left ? (KC ? load1(r, k + u) : load1(r + u, k)) : 0.0f;
                }
            }
        }
    }

    // Completes the slice in stage s: F32 values rounded and stored (cp.async completes on its own).
    __device__ __forceinline__ void store(unsigned short* s) const {
        if constexpr (!ASYNC) {
#pragma unroll
            for (int i = 0; i < CH; i++) {
                if constexpr (V == 1) {
                    s[offset(i)] = L::to16(raw[i][0]);
                } else {
                    *reinterpret_cast<uint2*>(s + offset(i)) = make_uint2(pack16(L::to16(raw[i][0]), L::to16(raw[i][1])),
                                                                           pack16(L::to16(raw[i][2]), L::to16(raw[i][3])));
                }
            }
        }
    }

    // The A fragment of rows r..r+15, k = ks..ks+15 (matrices: rows 0-7/8-15 x k 0-7, then x k 8-15).
    static __device__ __forceinline__ void frag_a(unsigned (&a)[4], const unsigned short* s, int r, int ks, int lane) {
        const int q = lane >> 3, i8 = lane & 7;
        if constexpr (KC) {
            ldmatrix_x4(a, s + (r + (q & 1) * 8 + i8) * LD + ks + (q >> 1) * 8);
        } else {
            ldmatrix_x4_trans(a, s + (ks + (q >> 1) * 8 + i8) * LD + r + (q & 1) * 8);
        }
    }

    // The B fragments of columns n..n+7 (b[0], b[1]) and n+8..n+15 (b[2], b[3]), k = ks..ks+15.
    static __device__ __forceinline__ void frag_b(unsigned (&b)[4], const unsigned short* s, int n, int ks, int lane) {
        const int q = lane >> 3, i8 = lane & 7;
        if constexpr (KC) {
            ldmatrix_x4(b, s + (n + (q >> 1) * 8 + i8) * LD + ks + (q & 1) * 8);
        } else {
            ldmatrix_x4_trans(b, s + (ks + (q & 1) * 8 + i8) * LD + n + (q >> 1) * 8);
        }
    }
};

template <int BM, int BN, int BK, class Op, class LoadA, class LoadB, class Store>
__device__ __forceinline__ void mma_tile(int M, int N, int K, int m0, int n0, const LoadA& la, const LoadB& lb,
                                         const Store& st) {
    constexpr int WM = BM / 2, WN = BN / 4;   // warp tile
    constexpr int MT = WM / 16, NT = WN / 8;  // fragments per warp
    static_assert(NT % 2 == 0, "B fragments are loaded in pairs");
    using SA = Stager<BM, BK, LoadA, RowsOfA<LoadA>>;
    using SB = Stager<BN, BK, LoadB, ColsOfB<LoadB>>;
    __shared__ __align__(16) unsigned short As[2][SA::SIZE];
    __shared__ __align__(16) unsigned short Bs[2][SB::SIZE];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = (warp >> 2) * WM, wn = (warp & 3) * WN;

    float acc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0.0f;

    SA sa(la, m0, M, K, tid);
    SB sb(lb, n0, N, K, tid);
    const int slices = (K + BK - 1) / BK;
    if (slices > 0) {
        sa.prepare(0, 0, tid);
        sb.prepare(0, 0, tid);
        __syncthreads();
        sa.fetch(0, As[0], 0);
        sb.fetch(0, Bs[0], 0);
        sa.prepare(BK, 1, tid);
        sb.prepare(BK, 1, tid);
        cp_async_commit();
        sa.store(As[0]);
        sb.store(Bs[0]);
    }
    for (int s = 0; s < slices; s++) {
        const int cur = s & 1;
        // Slice s is complete in stage cur (own cp.async waited for, everyone's stores behind the barrier),
        // and every warp is done with slice s - 1, so stage cur ^ 1 may be refilled (and tap buffer cur,
        // last read by the fetch of slice s, may take slice s + 2's taps).
        cp_async_wait<0>();
        __syncthreads();
        const bool more = s + 1 < slices;
        if (more) {
            sa.fetch((s + 1) * BK, As[cur ^ 1], cur ^ 1);
            sb.fetch((s + 1) * BK, Bs[cur ^ 1], cur ^ 1);
            cp_async_commit();
        }
        if (s + 2 < slices) {
            sa.prepare((s + 2) * BK, cur, tid);
            sb.prepare((s + 2) * BK, cur, tid);
        }
#pragma unroll
        for (int ks = 0; ks < BK; ks += 16) {
            unsigned a[MT][4], b[NT][2];
#pragma unroll
            for (int i = 0; i < MT; i++) SA::frag_a(a[i], As[cur], wm + i * 16, ks, lane);
#pragma unroll
            for (int j = 0; j < NT; j += 2) {
                unsigned r[4];
                SB::frag_b(r, Bs[cur], wn + j * 8, ks, lane);
                b[j][0] = r[0];
                b[j][1] = r[1];
                b[j + 1][0] = r[2];
                b[j + 1][1] = r[3];
            }
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int j = 0; j < NT; j++) Op::mma(acc[i][j], a[i], b[j]);
        }
        if (more) {
            sa.store(As[cur ^ 1]);
            sb.store(Bs[cur ^ 1]);
        }
    }
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int i = 0; i < MT; i++) {
#pragma unroll
        for (int j = 0; j < NT; j++) {
            const int m = m0 + wm + i * 16 + g, n = n0 + wn + j * 8 + 2 * t;
            if (n >= N) continue;
            if constexpr (Store::kPairs) {
                // Columns n, n + 1 (n even) go to the store together (GEGLU's value and gate).
                if (m < M) st.pair(m, n, acc[i][j][0], acc[i][j][1]);
                if (m + 8 < M) st.pair(m + 8, n, acc[i][j][2], acc[i][j][3]);
            } else {
                if (m < M) store_run<2>(st, m, n, N, {acc[i][j][0], acc[i][j][1]});
                if (m + 8 < M) store_run<2>(st, m + 8, n, N, {acc[i][j][2], acc[i][j][3]});
            }
        }
    }
}
