// The tensor-core GEMM of gemm_mma.cu against a float64 product of the same rounded operands: every
// memory order (A k- or m-contiguous, B n- or k-contiguous), B as F32 (rounded while staged) or already
// 16-bit, both tiles, f16 and bf16, sizes that are not multiples of the tiles (K % 8 != 0 included, so the
// aligned 16-byte paths and their scalar fallbacks both run), row strides padded past K, bias with SiLU,
// a batch of two with B broadcast (batch stride 0), a residual added in the epilogue, and the GEGLU
// kernel (the weight's value and gate rows read interleaved, gate applied in the epilogue).
#include "emu.h"
#include "check.h"
#include "gemm_mma.cu"

#include <string>

using Kernel = void (*)(int, int, int, const float*, const void*, const float*, float*, long long, long long, long long,
                        long long, int, Dims, Dims, Dims, int, const float*);

// The kernel for one variant, found by its name parts.
static Kernel kernel(bool tile128, bool ak, bool bn, bool b16, bool bf16) {
    static const struct {
        int tile;
        const char *order, *bt, *d;
        Kernel k;
    } table[] = {
#define ENTRY(T, O, BT, D) {T, #O, #BT, #D, gemm_mma_##T##_##O##_##BT##_##D},
#define ORDERS(T, BT, D) ENTRY(T, ak_bn, BT, D) ENTRY(T, ak_bk, BT, D) ENTRY(T, am_bn, BT, D) ENTRY(T, am_bk, BT, D)
        ORDERS(64, bf32, f16) ORDERS(64, b16, f16) ORDERS(128, bf32, f16) ORDERS(128, b16, f16)
        ORDERS(64, bf32, bf16) ORDERS(64, b16, bf16) ORDERS(128, bf32, bf16) ORDERS(128, b16, bf16)
    };
    for (const auto& e : table)
        if ((e.tile == 128) == tile128 && (e.order[1] == 'k') == ak && (e.order[4] == 'n') == bn && (e.bt[1] == '1') == b16 &&
            (e.d[0] == 'b') == bf16)
            return e.k;
    std::fprintf(stderr, "no kernel\n");
    std::exit(2);
}

struct Case {
    int M, N, K;
    bool ak, bn, b16, bf16, tile128;
    int padA = 0;      // extra elements per row of A's outer dimension (a stride that breaks 16-byte alignment)
    int act = 0;       // 1 = SiLU
    bool bias = false;
    int batch = 1;     // > 1: batchRank 1, A per batch, B broadcast (stride 0)
    bool residual = false;
};

static void run(const Case& cs) {
    const int M = cs.M, N = cs.N, K = cs.K, batch = cs.batch;
    // A: [M][K] (ak) or [K][M] (am) with the outer stride padded by padA; B: [K][N] (bn) or [N][K] (bk).
    long long sam, sak, aOuter;
    if (cs.ak) { sak = 1; sam = K + cs.padA; aOuter = M; } else { sam = 1; sak = M + cs.padA; aOuter = K; }
    long long aSize = aOuter * (cs.ak ? sam : sak);
    long long sbk, sbn;
    if (cs.bn) { sbn = 1; sbk = N; } else { sbk = 1; sbn = K; }
    auto a = random_floats((size_t) (aSize * batch), 11 + M + K);
    auto b = random_floats((size_t) N * K, 13 + N);
    auto bias = random_floats(N, 17);
    for (auto& v : a) v *= 2.0f;
    std::vector<unsigned short> b16(b.size());
    for (size_t i = 0; i < b.size(); i++) b16[i] = cs.bf16 ? to_bf16(b[i]) : to_f16(b[i]);
    std::vector<float> c((size_t) batch * M * N, NAN);
    auto res = random_floats(c.size(), 19);
    Dims shape{}, aBatch{}, bBatch{};
    shape.v[0] = batch;
    aBatch.v[0] = aSize;
    bBatch.v[0] = 0;
    int bm = cs.tile128 ? 128 : 64;
    emu_launch(kernel(cs.tile128, cs.ak, cs.bn, cs.b16, cs.bf16), dim3((N + bm - 1) / bm, (M + bm - 1) / bm, batch), dim3(256), 0,
               M, N, K, (const float*) a.data(), cs.b16 ? (const void*) b16.data() : (const void*) b.data(),
               cs.bias ? (const float*) bias.data() : (const float*) nullptr, c.data(), sam, sak, sbk, sbn, batch > 1 ? 1 : 0,
               shape, aBatch, bBatch, cs.act, cs.residual ? (const float*) res.data() : (const float*) nullptr);
    std::vector<double> want(c.size());
    for (int z = 0; z < batch; z++)
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double s = cs.bias ? bias[n] : 0.0;
                for (int k = 0; k < K; k++)
                    s += (double) round16(a[z * aSize + m * sam + k * sak], cs.bf16) * round16(b[k * sbk + n * sbn], cs.bf16);
                if (cs.act == 1) s = s / (1.0 + std::exp(-s));
                if (cs.residual) s += res[((size_t) z * M + m) * N + n];
                want[((size_t) z * M + m) * N + n] = s;
            }
    char what[160];
    std::snprintf(what, sizeof what, "gemm_mma_%d_%s_%s_%s_%s M %d N %d K %d%s%s%s%s%s", bm, cs.ak ? "ak" : "am",
                  cs.bn ? "bn" : "bk", cs.b16 ? "b16" : "bf32", cs.bf16 ? "bf16" : "f16", M, N, K,
                  cs.padA ? " padded A rows" : "", cs.bias ? " bias" : "", cs.act == 1 ? " silu" : "",
                  batch > 1 ? " batch 2, B broadcast" : "", cs.residual ? " residual" : "");
    check(what, c, want, 1e-5);
}

// linear + GEGLU: x [M, K], w [2F, K] (value rows then gate rows, as diffusers stores GEGLU.proj), bias [2F].
static void geglu(int M, int F, int K, bool bf16, bool tile128) {
    const int N = 2 * F;
    auto x = random_floats((size_t) M * K, 23 + M);
    auto w = random_floats((size_t) N * K, 29 + F);
    auto bias = random_floats(N, 31);
    std::vector<unsigned short> w16(w.size());
    for (size_t i = 0; i < w.size(); i++) w16[i] = bf16 ? to_bf16(w[i]) : to_f16(w[i]);
    std::vector<float> out((size_t) M * F, NAN);
    int bm = tile128 ? 128 : 64;
    auto kernel = bf16 ? (tile128 ? gemm_geglu_mma_128_bf16 : gemm_geglu_mma_64_bf16) : (tile128 ? gemm_geglu_mma_128_f16 : gemm_geglu_mma_64_f16);
    emu_launch(kernel, dim3((N + bm - 1) / bm, (M + bm - 1) / bm), dim3(256), 0, M, N, K, (const float*) x.data(),
               (const unsigned short*) w16.data(), (const float*) bias.data(), out.data());
    std::vector<double> want(out.size());
    for (int m = 0; m < M; m++)
        for (int j = 0; j < F; j++) {
            double v = bias[j], g = bias[F + j];
            for (int k = 0; k < K; k++) {
                double xv = round16(x[(size_t) m * K + k], bf16);
                v += xv * round16(w[(size_t) j * K + k], bf16);
                g += xv * round16(w[(size_t) (F + j) * K + k], bf16);
            }
            want[(size_t) m * F + j] = v * 0.5 * g * (1.0 + std::erf(g / std::sqrt(2.0)));
        }
    char what[96];
    std::snprintf(what, sizeof what, "gemm_geglu_mma_%d_%s M %d F %d K %d", bm, bf16 ? "bf16" : "f16", M, F, K);
    check(what, out, want, 1e-5);
}

int main() {
    // Every kernel once, cycling through shapes (five shapes over four orders, so each order meets several):
    // K = 36 and 37 (not a multiple of 8: 16-bit rows unaligned; 37 also breaks the float4 rows), K = 40
    // and 72 (aligned, a partial last slice), M/N below, at and above the tile edge, odd and even.
    // The fifth shape is aligned everywhere, so every order also runs its vector paths on all operands.
    const int shapes[][3] = {{70, 40, 36}, {68, 72, 40}, {130, 44, 72}, {33, 136, 37}, {72, 48, 96}};
    int i = 0;
    for (bool tile128 : {false, true})
        for (bool bf16 : {false, true})
            for (bool b16 : {false, true})
                for (bool ak : {true, false})
                    for (bool bn : {true, false}) {
                        const int* s = shapes[i++ % 5];
                        run({s[0], s[1], s[2], ak, bn, b16, bf16, tile128});
                    }
    // Linear as CudaBackend launches it (A [M,K], B the [N,K] weight) with bias and SiLU.
    run({70, 40, 48, true, false, true, false, false, 0, 1, true});
    run({130, 72, 40, true, false, true, true, true, 0, 1, true});
    // A's outer stride padded to a multiple of 4 past a K (or M) that is not: float4 chunks with a partial
    // last chunk per row.
    run({66, 50, 37, true, true, false, false, false, 3});
    run({66, 50, 40, false, false, true, true, true, 2});
    // Batched with broadcast B.
    run({40, 70, 48, true, true, false, false, false, 0, 0, false, 2});
    run({72, 40, 36, false, false, true, true, true, 0, 1, true, 2});
    // A residual added after bias (and after SiLU), single and batched.
    run({70, 40, 48, true, false, true, false, false, 0, 0, true, 1, true});
    run({72, 40, 36, true, true, false, true, true, 0, 1, true, 2, true});
    // GEGLU with F not a multiple of the tile's half.
    geglu(70, 36, 40, false, false);
    geglu(130, 68, 48, true, true);
    geglu(66, 20, 36, false, true);  // K % 8 != 0: the weight rows are read without cp.async
    return failures == 0 ? 0 : 1;
}
