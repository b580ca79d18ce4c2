// The fp32 products of gemm.cu and conv2d.cu (the CUDA backend's default precision) with the epilogue
// additions: bias, activation and a residual (dense like C; for the conv also one value per image and
// channel), against float64 references. fp32 accumulation over K <= 300 keeps the error near 1e-6.
#include "emu.h"
#include "check.h"
#include "gemm.cu"
#include "conv2d.cu"

static void linear(bool tile128, int M, int N, int K, bool residual) {
    auto x = random_floats((size_t) M * K, 3 + M), w = random_floats((size_t) N * K, 5 + N), b = random_floats(N, 7);
    auto r = random_floats((size_t) M * N, 9);
    std::vector<float> c((size_t) M * N, NAN);
    Dims none{};
    int bm = tile128 ? 128 : 64;
    emu_launch(tile128 ? gemm_128_ak_bk_f32 : gemm_64_ak_bk_f32, dim3((N + bm - 1) / bm, (M + bm - 1) / bm, 1), dim3(256), 0, M, N, K,
               (const float*) x.data(), (const float*) w.data(), (const float*) b.data(), c.data(), (long long) K, 1LL, 1LL,
               (long long) K, 0, none, none, none, 0, residual ? (const float*) r.data() : (const float*) nullptr);
    std::vector<double> want(c.size());
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = b[n];
            for (int k = 0; k < K; k++) s += (double) x[(size_t) m * K + k] * w[(size_t) n * K + k];
            want[(size_t) m * N + n] = residual ? s + r[(size_t) m * N + n] : s;
        }
    char what[96];
    std::snprintf(what, sizeof what, "gemm_%d_ak_bk_f32 M %d N %d K %d%s", bm, M, N, K, residual ? " residual" : "");
    check(what, c, want, 1e-5);
}

// residual: 0 none, 1 NCHW like the output, 2 [N, O, 1, 1].
static void conv3x3(bool tile128, int n, int c, int h, int w, int o, int residual) {
    auto x = random_floats((size_t) n * c * h * w, 11 + c), wt = random_floats((size_t) o * c * 9, 13 + o), b = random_floats(o, 17);
    auto r = random_floats((size_t) n * o * h * w, 19);
    std::vector<float> out((size_t) n * o * h * w, NAN);
    int bm = tile128 ? 128 : 64;
    long long p = (long long) n * h * w;
    emu_launch(tile128 ? conv2d_128_k3_f32 : conv2d_64_k3_f32, dim3((unsigned) ((p + bm - 1) / bm), (o + bm - 1) / bm, 1), dim3(256), 0,
               (const float*) x.data(), (const float*) wt.data(), (const float*) b.data(), out.data(), n, c, h, w, o, 3, 3, 1, 1, 1, h, w,
               residual ? (const float*) r.data() : (const float*) nullptr, residual == 1 ? (long long) o * h * w : (long long) o,
               residual == 1 ? (long long) h * w : 1LL, residual == 1 ? 1LL : 0LL);
    std::vector<double> want(out.size());
    for (int ni = 0; ni < n; ni++)
        for (int oi = 0; oi < o; oi++)
            for (int y = 0; y < h; y++)
                for (int xo = 0; xo < w; xo++) {
                    double s = b[oi];
                    for (int ci = 0; ci < c; ci++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int iy = y + ky - 1, ix = xo + kx - 1;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                s += (double) x[(((size_t) ni * c + ci) * h + iy) * w + ix] * wt[(((size_t) oi * c + ci) * 3 + ky) * 3 + kx];
                            }
                    size_t at = (((size_t) ni * o + oi) * h + y) * w + xo;
                    want[at] = residual == 1 ? s + r[at] : residual == 2 ? s + r[(size_t) ni * o + oi] : s;
                }
    char what[96];
    std::snprintf(what, sizeof what, "conv2d_%d_k3_f32 [%d,%d,%d,%d] -> %d%s", bm, n, c, h, w, o,
                  residual == 1 ? " + residual" : residual == 2 ? " + [N,O,1,1]" : "");
    check(what, out, want, 1e-5);
}

int main() {
    for (bool tile128 : {false, true}) {
        linear(tile128, 70, 45, 33, false);
        linear(tile128, 70, 45, 33, true);
        for (int residual : {0, 1, 2}) conv3x3(tile128, 2, 5, 9, 7, 11, residual);
    }
    return failures == 0 ? 0 : 1;
}
