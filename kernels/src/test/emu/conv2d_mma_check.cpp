// The tensor-core implicit-GEMM convolution of conv2d_mma.cu against a float64 convolution of the same
// rounded operands (16-bit weight, input rounded to the operand type): 3x3 pad 1 stride 1, 3x3 stride 2
// with the asymmetric (0, 1) padding of diffusers' downsampler, 1x1, and the generic kernel with a 2x4
// kernel at stride 3; Cin = 4 (K = 36, rows not 16-byte aligned) and aligned K; tiles 64 and 128; f16
// and bf16; batch 2 so that tiles straddle images; a residual (NCHW like the output) added in the epilogue.
#include "emu.h"
#include "check.h"
#include "conv2d_mma.cu"

using Kernel = void (*)(const float*, const unsigned short*, const float*, float*, int, int, int, int, int, int, int, int,
                        int, int, int, int, const float*, long long, long long, long long);

static Kernel kernel(int tile, int size, bool bf16) {  // size: 1 (1x1), 3 (3x3), 0 (any)
    static const struct {
        int tile, size;
        bool bf16;
        Kernel k;
    } table[] = {
        {64, 1, false, conv2d_mma_64_k1_f16}, {64, 3, false, conv2d_mma_64_k3_f16}, {64, 0, false, conv2d_mma_64_kn_f16},
        {128, 1, false, conv2d_mma_128_k1_f16}, {128, 3, false, conv2d_mma_128_k3_f16}, {128, 0, false, conv2d_mma_128_kn_f16},
        {64, 1, true, conv2d_mma_64_k1_bf16}, {64, 3, true, conv2d_mma_64_k3_bf16}, {64, 0, true, conv2d_mma_64_kn_bf16},
        {128, 1, true, conv2d_mma_128_k1_bf16}, {128, 3, true, conv2d_mma_128_k3_bf16}, {128, 0, true, conv2d_mma_128_kn_bf16},
    };
    for (const auto& e : table)
        if (e.tile == tile && e.size == size && e.bf16 == bf16) return e.k;
    std::fprintf(stderr, "no kernel\n");
    std::exit(2);
}

static void run(int tile, bool bf16, int n, int c, int h, int w, int o, int kh, int kw, int stride, int padTop, int padBottom,
                int padLeft, int padRight, bool bias, int residual = 0) {  // residual: 0 none, 1 NCHW, 2 [N, O, 1, 1]
    int oh = (h + padTop + padBottom - kh) / stride + 1, ow = (w + padLeft + padRight - kw) / stride + 1;
    int size = kh == 1 && kw == 1 ? 1 : kh == 3 && kw == 3 ? 3 : 0;
    auto x = random_floats((size_t) n * c * h * w, 21 + c + h);
    auto wt = random_floats((size_t) o * c * kh * kw, 23 + o);
    auto b = random_floats(o, 29);
    std::vector<unsigned short> w16(wt.size());
    for (size_t i = 0; i < wt.size(); i++) w16[i] = bf16 ? to_bf16(wt[i]) : to_f16(wt[i]);
    std::vector<float> out((size_t) n * o * oh * ow, NAN);
    auto res = random_floats(out.size(), 37);
    long long p = (long long) n * oh * ow;
    emu_launch(kernel(tile, size, bf16), dim3((unsigned) ((p + tile - 1) / tile), (o + tile - 1) / tile, 1), dim3(256), 0,
               (const float*) x.data(), (const unsigned short*) w16.data(), bias ? (const float*) b.data() : (const float*) nullptr,
               out.data(), n, c, h, w, o, kh, kw, stride, padTop, padLeft, oh, ow,
               residual ? (const float*) res.data() : (const float*) nullptr, residual == 1 ? (long long) o * oh * ow : (long long) o,
               residual == 1 ? (long long) oh * ow : 1LL, residual == 1 ? 1LL : 0LL);
    std::vector<double> want(out.size());
    for (int ni = 0; ni < n; ni++)
        for (int oi = 0; oi < o; oi++)
            for (int y = 0; y < oh; y++)
                for (int xo = 0; xo < ow; xo++) {
                    double s = bias ? b[oi] : 0.0;
                    for (int ci = 0; ci < c; ci++)
                        for (int r = 0; r < kh; r++)
                            for (int q = 0; q < kw; q++) {
                                int iy = y * stride - padTop + r, ix = xo * stride - padLeft + q;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                s += (double) round16(x[(((size_t) ni * c + ci) * h + iy) * w + ix], bf16) *
                                     round16(wt[(((size_t) oi * c + ci) * kh + r) * kw + q], bf16);
                            }
                    size_t at = (((size_t) ni * o + oi) * oh + y) * ow + xo;
                    want[at] = residual == 1 ? s + res[at] : residual == 2 ? s + res[(size_t) ni * o + oi] : s;
                }
    char what[200];
    std::snprintf(what, sizeof what, "conv2d_mma_%d_%s_%s x [%d,%d,%d,%d] w [%d,%d,%d,%d] stride %d pad (%d,%d,%d,%d)%s%s", tile,
                  size == 1 ? "k1" : size == 3 ? "k3" : "kn", bf16 ? "bf16" : "f16", n, c, h, w, o, c, kh, kw, stride, padTop,
                  padBottom, padLeft, padRight, bias ? " bias" : "", residual == 1 ? " residual" : residual == 2 ? " + [N,O,1,1]" : "");
    check(what, out, want, 1e-5);
}

int main() {
    for (int tile : {64, 128})
        for (bool bf16 : {false, true}) {
            run(tile, bf16, 2, 8, 9, 9, 20, 3, 3, 1, 1, 1, 1, 1, true);       // 3x3 same, K = 72
            run(tile, bf16, 2, 4, 10, 7, 70, 3, 3, 1, 1, 1, 1, 1, true);      // conv_in-like: Cin 4, K = 36
            run(tile, bf16, 1, 16, 10, 10, 24, 3, 3, 2, 0, 1, 0, 1, true);    // downsample: stride 2, pad (0,1,0,1)
            run(tile, bf16, 2, 40, 7, 7, 24, 1, 1, 1, 0, 0, 0, 0, false);     // 1x1, K = 40
            run(tile, bf16, 2, 5, 11, 13, 12, 2, 4, 3, 1, 0, 2, 1, true);     // generic 2x4 stride 3, K = 40
            run(tile, bf16, 1, 3, 9, 9, 66, 2, 4, 3, 0, 1, 1, 2, false);      // generic, K = 24
            run(tile, bf16, 1, 32, 6, 6, 16, 3, 3, 1, 1, 1, 1, 1, true);      // K = 288: nine slices
            run(tile, bf16, 2, 8, 9, 9, 20, 3, 3, 1, 1, 1, 1, 1, true, 1);    // ResNet conv2 + shortcut
            run(tile, bf16, 2, 40, 7, 7, 24, 1, 1, 1, 0, 0, 0, 0, true, 1);   // proj_out 1x1 + residual
            run(tile, bf16, 2, 8, 9, 9, 20, 3, 3, 1, 1, 1, 1, 1, true, 2);    // ResNet conv1 + time embedding
        }
    return failures == 0 ? 0 : 1;
}
