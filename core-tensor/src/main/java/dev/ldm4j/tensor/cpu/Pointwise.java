// Elementwise math of the CPU backend: the activations (exact GELU through a high-accuracy erfc),
// and the fused bias + activation epilogue that linear and conv apply to each output row.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Activation;

final class Pointwise {
    private static final double INV_SQRT2 = 0.7071067811865476;
    private static final double SQRT_2_OVER_PI = 0.7978845608028654;

    private Pointwise() {
    }

    /**
     * Complementary error function for z >= 0 with fractional error below 1.2e-7 everywhere: the
     * Chebyshev fit of Press, Teukolsky, Vetterling and Flannery, Numerical Recipes in C (2nd ed.),
     * section 6.2, function erfcc. Evaluated in double.
     */
    static double erfcNonNegative(double z) {
        double t = 1.0 / (1.0 + 0.5 * z);
        double poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277))))))));
        return t * Math.exp(poly);
    }

    /** Exact GELU, 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2), relative error ~1.2e-7. */
    static float gelu(float x) {
        double z = x * INV_SQRT2;
        double erfcNeg = z >= 0 ? 2.0 - erfcNonNegative(z) : erfcNonNegative(-z);
        return (float) (0.5 * x * erfcNeg);
    }

    static float apply(Activation act, float x) {
        return switch (act) {
            case NONE -> x;
            case SILU -> (float) (x / (1.0 + Math.exp(-x)));
            case GELU -> gelu(x);
            case GELU_TANH -> (float) (0.5 * x * (1.0 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))));
            case QUICK_GELU -> (float) (x / (1.0 + Math.exp(-1.702 * x)));
        };
    }

    /** In place: a[off + j] = act(a[off + j]) for j < n. */
    static void activate(float[] a, int off, int n, Activation act) {
        if (act == null || act == Activation.NONE) {
            return;
        }
        for (int j = off; j < off + n; j++) {
            a[j] = apply(act, a[j]);
        }
    }

    /** In place: c[at + j] = act(c[at + j] + rowBias + colBias[col0 + j]) for j < n (colBias may be null). */
    static void biasActivation(float[] c, int at, int n, float rowBias, float[] colBias, int col0, Activation act) {
        if (colBias != null) {
            for (int j = 0; j < n; j++) {
                c[at + j] += rowBias + colBias[col0 + j];
            }
        } else if (rowBias != 0f) {
            for (int j = 0; j < n; j++) {
                c[at + j] += rowBias;
            }
        }
        activate(c, at, n, act);
    }
}
