// The data-movement kernels of elementwise.cu that the CudaBackend picks after merging dimensions:
// copy_rows (unit-stride rows, e.g. a concat part) and the tiled batched transpose (e.g. NCHW -> tokens),
// from F32 and F16 sources, and the nearest resize to a given size (the U-Net's odd levels), against the
// same copy done element by element here in float64 (exact).
#include "emu.h"
#include "check.h"
#include "elementwise.cu"

static Dims dims(std::initializer_list<long long> v) {
    Dims d{};
    int i = 0;
    for (long long x : v) d.v[i++] = x;
    return d;
}

static void rows_case() {
    // A part [2, 3, 37] (dense) into channels 2..4 of [2, 6, 37]: rows of 37, row index over [2, 3].
    auto src = random_floats(2 * 3 * 37, 5);
    std::vector<float> dst(2 * 6 * 37, -7.0f);
    emu_launch(copy_rows_f32, dim3(4), dim3(64), 0, 6LL, 37LL, 3, dims({2, 3, 37}), dims({111, 37, 1}), dims({222, 37, 1}),
               (const float*) src.data(), dst.data() + 2 * 37);
    std::vector<double> want(dst.size(), -7.0);
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 3; c++)
            for (int j = 0; j < 37; j++) want[b * 222 + (c + 2) * 37 + j] = src[b * 111 + c * 37 + j];
    check("copy_rows f32 concat part [2,3,37] into [2,6,37]", dst, want, 0.0);

    std::vector<unsigned short> h(5 * 40);
    auto f = random_floats(h.size(), 6);
    for (size_t i = 0; i < h.size(); i++) h[i] = to_f16(f[i]);
    std::vector<float> out(5 * 40, NAN);
    emu_launch(copy_rows_f16, dim3(2), dim3(32), 0, 5LL, 40LL, 2, dims({5, 40}), dims({40, 1}), dims({40, 1}),
               (const unsigned short*) h.data(), out.data());
    std::vector<double> w(out.size());
    for (size_t i = 0; i < w.size(); i++) w[i] = __half2float(__ushort_as_half(h[i]));
    check("copy_rows f16 widening [5,40]", out, w, 0.0);
}

static void transpose_case(int B, int R, int C) {
    // src [B, C, R] dense (unit stride along r), dst [B, R, C] dense.
    auto src = random_floats((size_t) B * C * R, 7 + R);
    std::vector<float> dst((size_t) B * R * C, NAN);
    emu_launch(transpose_f32, dim3((C + 31) / 32, (R + 31) / 32, B), dim3(256), 0, R, C, (long long) C * R, (long long) R,
               (long long) R * C, (long long) C, (const float*) src.data(), dst.data());
    std::vector<double> want(dst.size());
    for (int b = 0; b < B; b++)
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) want[((size_t) b * R + r) * C + c] = src[((size_t) b * C + c) * R + r];
    char what[96];
    std::snprintf(what, sizeof what, "transpose f32 [%d,%d,%d] -> [%d,%d,%d]", B, C, R, B, R, C);
    check(what, dst, want, 0.0);
}

// x [planes, h, w] -> [planes, oh, ow]; the reference reads row floor(i * h / oh) in float64.
static void upsample_case(int planes, int h, int w, int oh, int ow) {
    auto x = random_floats((size_t) planes * h * w, 11 + oh);
    std::vector<float> out((size_t) planes * oh * ow, NAN);
    emu_launch(upsample_nearest_f32, dim3(3), dim3(64), 0, (long long) planes, h, w, oh, ow, (float) h / (float) oh,
               (float) w / (float) ow, (const float*) x.data(), out.data());
    std::vector<double> want(out.size());
    for (int p = 0; p < planes; p++)
        for (int y = 0; y < oh; y++)
            for (int c = 0; c < ow; c++) {
                int sy = (int) std::floor((double) y * h / oh), sx = (int) std::floor((double) c * w / ow);
                want[((size_t) p * oh + y) * ow + c] = x[((size_t) p * h + sy) * w + sx];
            }
    char what[96];
    std::snprintf(what, sizeof what, "upsample_nearest f32 [%d,%d,%d] -> [%d,%d,%d]", planes, h, w, planes, oh, ow);
    check(what, out, want, 0.0);
}

// PyTorch's float rule where it differs from exact division: 2 -> 82 rows, row 41 reads row 0 (not 1).
static void upsample_float_rule_case() {
    std::vector<float> x = {10.0f, 20.0f}, out(82, NAN);
    emu_launch(upsample_nearest_f32, dim3(1), dim3(32), 0, 1LL, 2, 1, 82, 1, 2.0f / 82.0f, 1.0f, (const float*) x.data(), out.data());
    std::vector<double> want(82);
    for (int y = 0; y < 82; y++) want[y] = y <= 41 ? 10.0 : 20.0;
    check("upsample_nearest f32 2 -> 82 rows (PyTorch's float index rule)", out, want, 0.0);
}

int main() {
    rows_case();
    transpose_case(2, 70, 45);
    transpose_case(1, 9, 64);
    upsample_case(6, 5, 7, 9, 13);
    upsample_case(4, 3, 4, 5, 7);
    upsample_case(2, 2, 2, 3, 4);
    upsample_case(3, 4, 3, 11, 6);
    upsample_case(2, 7, 5, 3, 2);
    upsample_case(2, 5, 7, 5, 7);
    upsample_float_rule_case();
    return failures == 0 ? 0 : 1;
}
