// Test helpers of the emulator checks: seeded inputs, operand rounding, and a comparison that prints
// one line per case and remembers failures for the exit status.
#pragma once
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

inline int failures = 0;

inline std::vector<float> random_floats(size_t n, unsigned seed, float scale = 1.0f) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> u(-scale, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = u(gen);
    return v;
}

inline unsigned short to_f16(float x) { return __half_as_ushort(__float2half_rn(x)); }
inline unsigned short to_bf16(float x) { return __bfloat16_as_ushort(__float2bfloat16_rn(x)); }
inline float round16(float x, bool bf16) { return bf16 ? __bfloat162float(__float2bfloat16_rn(x)) : __half2float(__float2half_rn(x)); }

// Largest |got - want| relative to the largest |want|; fails above tol.
inline void check(const char* what, const std::vector<float>& got, const std::vector<double>& want, double tol) {
    double maxErr = 0, maxRef = 1e-30;
    size_t worst = 0;
    for (size_t i = 0; i < want.size(); i++) {
        double e = std::fabs((double) got[i] - want[i]);
        if (!(e <= maxErr)) { maxErr = std::isnan(e) ? INFINITY : e; worst = i; }
        maxRef = std::fmax(maxRef, std::fabs(want[i]));
    }
    double rel = maxErr / maxRef;
    bool ok = rel <= tol;
    if (!ok) failures++;
    std::printf("%s %s: max error %.3g of max %.3g (relative %.3g, bound %.3g; worst at %zu: got %g, want %g)\n",
                ok ? "PASS" : "FAIL", what, maxErr, maxRef, rel, tol, worst, (double) got[worst], want[worst]);
}
