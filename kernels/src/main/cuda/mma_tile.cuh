// The tensor-core matrix-product core (fp16 or bf16 operands, fp32 accumulation) used by gemm.cu and
// conv2d.cu in the CudaBackend's FP16/BF16 modes.
//
// A block of 256 threads (8 warps, 2 along M x 4 along N) computes a BM x BN tile of C = A B, stepping
// through K in slices of BK (16 or 32; 16 for the 128 tile keeps its staging registers down). Each
// slice of A (BM x BK) and of B (BK x BN) is staged in shared memory as 16-bit values, both
// k-contiguous (As[m][k], Bs[n][k], rows padded by 8 values so that a warp's fragment loads below hit
// 32 different banks). As in gemm_tile.cuh, the next slice is fetched into registers while the current
// one is multiplied. A loader's elements come as its Raw type and become the operand type's 16-bit
// pattern (its to16) only when stored to shared memory, so that no instruction waits on a fetched value
// before the multiply: activations are F32 in memory and rounded to nearest even there (Rounded<>);
// weights already sit on the device in the operand type (to16 is a copy).
//
// Each warp owns a WM x WN sub-tile of (WM/16) x (WN/8) accumulator fragments and issues
// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: D[16x8] += A[16x16] B[16x8]. Fragment layout
// (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type"), with g = lane / 4 and
// t = lane % 4: A regs {a0..a3} hold A[g][2t..2t+1], A[g+8][2t..], A[g][2t+8..], A[g+8][2t+8..];
// B regs {b0, b1} hold B[2t..2t+1][g], B[2t+8..2t+9][g]; C holds C[g][2t..2t+1], C[g+8][2t..2t+1].
// Those pairs are adjacent in k, so each register is one 32-bit shared load from the k-contiguous tiles.
// The epilogue writes each accumulator pair with one 8-byte store (store_run from gemm_tile.cuh).
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

template <int BM, int BN, int BK, class Op, class LoadA, class LoadB, class Store>
__device__ __forceinline__ void mma_tile(int M, int N, int K, int m0, int n0, const LoadA& la, const LoadB& lb,
                                         const Store& st) {
    constexpr int PAD = 8, LD = BK + PAD;
    constexpr int WM = BM / 2, WN = BN / 4;      // warp tile
    constexpr int MT = WM / 16, NT = WN / 8;     // fragments per warp
    constexpr int LA = BM * BK / 256, LB = BN * BK / 256;
    __shared__ __align__(16) unsigned short As[BM][LD];
    __shared__ __align__(16) unsigned short Bs[BN][LD];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = (warp >> 2) * WM, wn = (warp & 3) * WN, g = lane >> 2, t = lane & 3;

    float acc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0.0f;

    // Staging element e of a slice: consecutive threads take consecutive addresses of the operand.
    auto a_pos = [&](int e, int& mm, int& kk) {
        if (la.kFast) { kk = e % BK; mm = e / BK; } else { mm = e % BM; kk = e / BM; }
    };
    auto b_pos = [&](int e, int& kk, int& nn) {
        if (lb.nFast) { nn = e % BN; kk = e / BN; } else { kk = e % BK; nn = e / BK; }
    };
    typename LoadA::Row rows[LA];
    typename LoadB::Col cols[LB];
    bool rowOk[LA], colOk[LB];
#pragma unroll
    for (int i = 0; i < LA; i++) {
        int mm, kk;
        a_pos(tid + 256 * i, mm, kk);
        rowOk[i] = m0 + mm < M;
        rows[i] = la.row(rowOk[i] ? m0 + mm : 0);
    }
#pragma unroll
    for (int i = 0; i < LB; i++) {
        int kk, nn;
        b_pos(tid + 256 * i, kk, nn);
        colOk[i] = n0 + nn < N;
        cols[i] = lb.col(colOk[i] ? n0 + nn : 0);
    }
    typename LoadA::Raw ra[LA];
    typename LoadB::Raw rb[LB];
    auto fetch = [&](int k0) {
#pragma unroll
        for (int i = 0; i < LA; i++) {
            int mm, kk;
            a_pos(tid + 256 * i, mm, kk);
            ra[i] = (rowOk[i] && k0 + kk < K) ? la.load(rows[i], k0 + kk) : typename LoadA::Raw(0);
        }
#pragma unroll
        for (int i = 0; i < LB; i++) {
            int kk, nn;
            b_pos(tid + 256 * i, kk, nn);
            rb[i] = (colOk[i] && k0 + kk < K) ? lb.load(cols[i], k0 + kk) : typename LoadB::Raw(0);
        }
    };

    fetch(0);
    for (int k0 = 0; k0 < K; k0 += BK) {
#pragma unroll
        for (int i = 0; i < LA; i++) {
            int mm, kk;
            a_pos(tid + 256 * i, mm, kk);
            As[mm][kk] = LoadA::to16(ra[i]);
        }
#pragma unroll
        for (int i = 0; i < LB; i++) {
            int kk, nn;
            b_pos(tid + 256 * i, kk, nn);
            Bs[nn][kk] = LoadB::to16(rb[i]);
        }
        __syncthreads();
        if (k0 + BK < K) fetch(k0 + BK);
#pragma unroll
        for (int ks = 0; ks < BK; ks += 16) {
            unsigned a[MT][4], b[NT][2];
#pragma unroll
            for (int i = 0; i < MT; i++) {
                const int r = wm + i * 16 + g, c = ks + 2 * t;
                a[i][0] = *reinterpret_cast<const unsigned*>(&As[r][c]);
                a[i][1] = *reinterpret_cast<const unsigned*>(&As[r + 8][c]);
                a[i][2] = *reinterpret_cast<const unsigned*>(&As[r][c + 8]);
                a[i][3] = *reinterpret_cast<const unsigned*>(&As[r + 8][c + 8]);
            }
#pragma unroll
            for (int j = 0; j < NT; j++) {
                const int n = wn + j * 8 + g, c = ks + 2 * t;
                b[j][0] = *reinterpret_cast<const unsigned*>(&Bs[n][c]);
                b[j][1] = *reinterpret_cast<const unsigned*>(&Bs[n][c + 8]);
            }
#pragma unroll
            for (int i = 0; i < MT; i++)
#pragma unroll
                for (int j = 0; j < NT; j++) Op::mma(acc[i][j], a[i], b[j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < MT; i++) {
#pragma unroll
        for (int j = 0; j < NT; j++) {
            const int m = m0 + wm + i * 16 + g, n = n0 + wn + j * 8 + 2 * t;
            if (n >= N) continue;
            if (m < M) store_run<2>(st, m, n, N, {acc[i][j][0], acc[i][j][1]});
            if (m + 8 < M) store_run<2>(st, m + 8, n, N, {acc[i][j][2], acc[i][j][3]});
        }
    }
}
