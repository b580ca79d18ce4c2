// The tensor-core GEMM of gemm_mma.cu (linear: A [M,K] activations, B a [N,K] 16-bit weight) against
// a float64 product of the same rounded operands, on sizes that are not multiples of the tiles.
#include "emu.h"
#include "check.h"
#include "gemm_mma.cu"

static void run(int M, int N, int K, bool bf16, bool tile128) {
    auto a = random_floats((size_t) M * K, 1 + M);
    auto w = random_floats((size_t) N * K, 2 + N);
    auto bias = random_floats(N, 3);
    std::vector<unsigned short> w16(w.size());
    for (size_t i = 0; i < w.size(); i++) w16[i] = bf16 ? to_bf16(w[i]) : to_f16(w[i]);
    std::vector<float> c((size_t) M * N, NAN);
    Dims none{};
    auto kernel = bf16 ? (tile128 ? gemm_mma_128_ak_bk_b16_bf16 : gemm_mma_64_ak_bk_b16_bf16)
                       : (tile128 ? gemm_mma_128_ak_bk_b16_f16 : gemm_mma_64_ak_bk_b16_f16);
    int bm = tile128 ? 128 : 64;
    emu_launch(kernel, dim3((N + bm - 1) / bm, (M + bm - 1) / bm, 1), dim3(256), 0, M, N, K, (const float*) a.data(),
               (const void*) w16.data(), (const float*) bias.data(), c.data(), (long long) K, 1LL, 1LL, (long long) K,
               0, none, none, none, 0);
    std::vector<double> want((size_t) M * N);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = bias[n];
            for (int k = 0; k < K; k++) s += (double) round16(a[(size_t) m * K + k], bf16) * round16(w[(size_t) n * K + k], bf16);
            want[(size_t) m * N + n] = s;
        }
    char what[96];
    std::snprintf(what, sizeof what, "gemm_mma %s tile %d M %d N %d K %d", bf16 ? "bf16" : "f16", bm, M, N, K);
    check(what, c, want, 1e-5);
}

int main() {
    run(70, 40, 48, false, false);
    run(130, 72, 40, true, true);
    return failures == 0 ? 0 : 1;
}
