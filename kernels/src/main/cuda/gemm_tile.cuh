// The shared-memory tiled matrix-product core used by gemm.cu and conv2d.cu (implicit GEMM).
//
// A block of 256 threads computes a BM x BM tile of C = A B, stepping through K in slices of BK.
// Each slice of A (BM x BK) and B (BK x BM) is staged in shared memory; thread (ty, tx) = (tid / 16,
// tid % 16) accumulates the T x T register tile of rows ty*T + i and columns tx*T + j, which lie
// are read four at a time from shared memory (16-byte loads): T/2 shared loads per k step for T*T
// multiply-adds. A thread's columns come in groups of four, tx*4 + 64*g (g < T/4), so that in the
// epilogue sixteen neighbouring threads write 64 consecutive outputs of a row with 16-byte stores
// (store_run), which coalesce; each thread's rows are ty*T + i.
//
// A Store says where output (m, n) goes (at), finishes its value (finish: bias, activation) and whether
// outputs n..n+V-1 of a row are adjacent in memory (adjacent); store_run then writes V of them with
// one vector store when they are adjacent and aligned, else one at a time. The next slice is fetched into registers while the current one is
// multiplied, so global loads overlap arithmetic. Loaders say which index is contiguous in memory
// (kFast for A, nFast for B) so that consecutive threads read consecutive addresses. Each thread
// always stages the same rows of A and columns of B (only k moves), so loaders split their address
// arithmetic: row(m) / col(n) once per thread (e.g. a conv's image position), then load(row, k) /
// load(col, k) per element.
#pragma once

template <int V, class Store>
__device__ __forceinline__ void store_run(const Store& st, int m, int n, int N, const float (&v)[V]) {
    float w[V];
#pragma unroll
    for (int u = 0; u < V; u++) w[u] = n + u < N ? st.finish(m, n + u, v[u]) : 0.0f;
    float* p = st.at(m, n);
    if (n + V <= N && st.adjacent(n, V) && (reinterpret_cast<unsigned long long>(p) & (4 * V - 1)) == 0) {
        // __stcg: a plain global store, but one the compiler keeps as a single vector store.
        if constexpr (V == 4) {
            __stcg(reinterpret_cast<float4*>(p), make_float4(w[0], w[1], w[2], w[3]));
        } else if constexpr (V == 2) {
            __stcg(reinterpret_cast<float2*>(p), make_float2(w[0], w[1]));
        } else {
            *p = w[0];
        }
    } else {
#pragma unroll
        for (int u = 0; u < V; u++)
            if (n + u < N) *st.at(m, n + u) = w[u];
    }
}

template <int BM, int BK>
struct TileShape {
    static constexpr int T = BM / 16;           // register tile edge
    static constexpr int LOADS = BM * BK / 256; // elements of A (and of B) each thread stages per slice
};

template <int BM, int BK, class LoadA, class LoadB, class Store>
__device__ __forceinline__ void gemm_tile(int M, int N, int K, int m0, int n0, const LoadA& la, const LoadB& lb,
                                          const Store& st) {
    constexpr int T = TileShape<BM, BK>::T;
    constexpr int LOADS = TileShape<BM, BK>::LOADS;
    __shared__ __align__(16) float As[BK][BM + 4];
    __shared__ __align__(16) float Bs[BK][BM + 4];
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    float acc[T][T];
#pragma unroll
    for (int i = 0; i < T; i++)
#pragma unroll
        for (int j = 0; j < T; j++) acc[i][j] = 0.0f;
    float ra[LOADS], rb[LOADS];

    auto a_pos = [&](int e, int& mm, int& kk) {
        if (la.kFast) { kk = e % BK; mm = e / BK; } else { mm = e % BM; kk = e / BM; }
    };
    auto b_pos = [&](int e, int& kk, int& nn) {
        if (lb.nFast) { nn = e % BM; kk = e / BM; } else { kk = e % BK; nn = e / BK; }
    };
    typename LoadA::Row rows[LOADS];
    typename LoadB::Col cols[LOADS];
    bool rowOk[LOADS], colOk[LOADS];
#pragma unroll
    for (int i = 0; i < LOADS; i++) {
        int e = tid + 256 * i, mm, kk, nn, kb;
        a_pos(e, mm, kk);
        rowOk[i] = m0 + mm < M;
        rows[i] = la.row(rowOk[i] ? m0 + mm : 0);
        b_pos(e, kb, nn);
        colOk[i] = n0 + nn < N;
        cols[i] = lb.col(colOk[i] ? n0 + nn : 0);
    }
    auto fetch = [&](int k0) {
#pragma unroll
        for (int i = 0; i < LOADS; i++) {
            int e = tid + 256 * i, mm, kk, nn, kb;
            a_pos(e, mm, kk);
            int k = k0 + kk;
            ra[i] = (rowOk[i] && k < K) ? la.load(rows[i], k) : 0.0f;
            b_pos(e, kb, nn);
            k = k0 + kb;
            rb[i] = (colOk[i] && k < K) ? lb.load(cols[i], k) : 0.0f;
        }
    };

    fetch(0);
    for (int k0 = 0; k0 < K; k0 += BK) {
#pragma unroll
        for (int i = 0; i < LOADS; i++) {
            int e = tid + 256 * i, mm, kk, nn, kb;
            a_pos(e, mm, kk);
            As[kk][mm] = ra[i];
            b_pos(e, kb, nn);
            Bs[kb][nn] = rb[i];
        }
        __syncthreads();
        if (k0 + BK < K) fetch(k0 + BK);
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float av[T], bv[T];
#pragma unroll
            for (int i = 0; i < T; i += 4) {
                float4 a4 = *reinterpret_cast<const float4*>(&As[kk][ty * T + i]);
                float4 b4 = *reinterpret_cast<const float4*>(&Bs[kk][(i / 4) * 64 + tx * 4]);
                av[i] = a4.x; av[i + 1] = a4.y; av[i + 2] = a4.z; av[i + 3] = a4.w;
                bv[i] = b4.x; bv[i + 1] = b4.y; bv[i + 2] = b4.z; bv[i + 3] = b4.w;
            }
#pragma unroll
            for (int i = 0; i < T; i++)
#pragma unroll
                for (int j = 0; j < T; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < T; i++) {
        int m = m0 + ty * T + i;
        if (m >= M) continue;
#pragma unroll
        for (int g = 0; g < T / 4; g++) {
            int n = n0 + g * 64 + tx * 4;
            if (n < N) store_run<4>(st, m, n, N, {acc[i][4 * g], acc[i][4 * g + 1], acc[i][4 * g + 2], acc[i][4 * g + 3]});
        }
    }
}
