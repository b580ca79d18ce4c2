// Elementwise math of the CPU backend: the activations (exact GELU through a high-accuracy erfc),
// scalar and in Vector API lanes, and the fused bias + activation epilogue that linear and conv apply to each output row.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Activation;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

final class Pointwise {
    private static final double INV_SQRT2 = 0.7071067811865476;
    private static final double SQRT_2_OVER_PI = 0.7978845608028654;
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

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

    /** act on a vector of lanes; the same formulas as apply, in float. */
    static FloatVector apply(Activation act, FloatVector x) {
        return switch (act) {
            case NONE -> x;
            case SILU -> silu(x);
            case GELU -> gelu(x);
            case GELU_TANH -> x.mul(0.5f).mul(x.mul(x).mul(x).mul(0.044715f).add(x).mul((float) SQRT_2_OVER_PI).lanewise(VectorOperators.TANH).add(1f));
            case QUICK_GELU -> x.div(exp(x.mul(-1.702f)).add(1f));
        };
    }

    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HI = 0.693359375f;          // ln 2 rounded to 10 bits, so k * LN2_HI is exact
    private static final float LN2_LO = -2.12194440e-4f;       // ln 2 - LN2_HI
    private static final float ROUND = 12582912f;              // 1.5 * 2^23: adding it rounds to an integer
    private static final float EXP_MIN = -87.33654f;           // below: e^x under the smallest normal float, 0 here
    private static final float EXP_MAX = 88.0f;                // k <= 127 keeps 2^k a normal float

    /**
     * e^x in float lanes, within about 2 ulp; 0 below -87.3 (so e^-inf = 0), saturating at e^88.
     * Written with adds, multiplies and bit operations only, so it gives the same bits whether the
     * JIT has compiled it or not (the JDK's lanewise EXP may differ in the last bit between the two,
     * which made the same seed give slightly different images on a first and a second run).
     * Cody-Waite reduction x = k ln 2 + r, |r| <= ln 2 / 2, then e^r by its Taylor series to r^7
     * (truncation error below 2.6e-9 relative) and 2^k from the exponent bits.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector k = xc.mul(LOG2E).add(ROUND).sub(ROUND);                    // round(x log2 e)
        FloatVector r = k.fma(FloatVector.broadcast(S, -LN2_HI), xc).sub(k.mul(LN2_LO)); // x - k ln 2, in two parts
        FloatVector p = r.fma(1f / 5040, 1f / 720);                             // Horner with fused multiply-adds
        p = p.fma(r, FloatVector.broadcast(S, 1f / 120));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 24));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 6));
        p = p.fma(r, FloatVector.broadcast(S, 0.5f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        IntVector bits = ((IntVector) k.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        FloatVector scaled = p.mul(bits.reinterpretAsFloats());
        return scaled.blend(0f, x.compare(VectorOperators.LT, EXP_MIN));
    }

    /**
     * e^(a[at + j] - shift) for j < n (a multiple of L), into dst from dstAt on unless dst is null; returns their
     * sum, lanes added as sumLanes adds them. The shift is at least every a[at + j] (a softmax's maximum, as in
     * both attention kernels), so every exponent is at most 0 and expNonPositive serves. A loop of its own, so that
     * the exp is inlined where it runs: called with a vector from a large method the JIT may leave it out of line,
     * and a vector that crosses a call is boxed and its operations run the Vector API's slow Java fallbacks (seen in
     * attention: 3x slower).
     */
    static float expShifted(float[] a, int at, int n, float shift, float[] dst, int dstAt) {
        FloatVector sum = FloatVector.zero(S);
        for (int j = 0; j < n; j += L) {
            FloatVector p = expNonPositive(FloatVector.fromArray(S, a, at + j).sub(shift));
            if (dst != null) {
                p.intoArray(dst, dstAt + j);
            }
            sum = sum.add(p);
        }
        return sumLanes(sum);
    }

    /**
     * e^x for x <= 0 (or -inf, giving 0), within 2.3e-7 relative (measured against Math.exp, PointwiseTest): exp's
     * method with five fewer operations, for the attention softmax's exponents (expShifted). No upper clamp (x <= 0),
     * the rounding to k as one fused multiply-add, and the Taylor series to r^6 (truncation below 1.2e-7 relative for
     * |r| <= ln 2 / 2). Made the 4096-token self-attention of SD 1.5 about 8% faster a call (2026-12-03).
     */
    static FloatVector expNonPositive(FloatVector x) {
        FloatVector xc = x.max(EXP_MIN);
        FloatVector k = xc.fma(FloatVector.broadcast(S, LOG2E), FloatVector.broadcast(S, ROUND)).sub(ROUND);
        FloatVector r = k.fma(FloatVector.broadcast(S, -LN2_HI), xc);
        r = k.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(1f / 720, 1f / 120);
        p = p.fma(r, FloatVector.broadcast(S, 1f / 24));
        p = p.fma(r, FloatVector.broadcast(S, 1f / 6));
        p = p.fma(r, FloatVector.broadcast(S, 0.5f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        IntVector bits = ((IntVector) k.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats()).blend(0f, x.compare(VectorOperators.LT, EXP_MIN));
    }

    /**
     * Sum of the lanes in a fixed pairwise order (lane i + lane i + L/2 for i < L/2, then i + L/4, ...), the
     * same bits compiled or not; reduceLanes(ADD) leaves the order to the implementation, and it differs
     * between the interpreter and the JIT. In registers, by lane rotations (lane i of v + v rotated by half is
     * v[i] + v[i + half], the scalar order's sum), with no array to allocate: the norms call it twice per
     * group, and at the U-Net's 4x4 and 8x8 levels a group is only 4 to 16 vectors.
     */
    static float sumLanes(FloatVector v) {
        for (int half = L / 2; half > 0; half /= 2) {
            v = v.add(v.rearrange(HALVES[Integer.numberOfTrailingZeros(half)]));
        }
        return v.lane(0);
    }

    /** HALVES[log2 h]: lane i takes lane (i + h) mod L. */
    @SuppressWarnings("unchecked")
    private static final VectorShuffle<Float>[] HALVES = new VectorShuffle[Integer.numberOfTrailingZeros(L) + 1];

    static {
        for (int h = 1; h <= L; h *= 2) {
            int half = h;
            HALVES[Integer.numberOfTrailingZeros(h)] = VectorShuffle.fromOp(S, i -> (i + half) % L);
        }
    }

    /** x sigmoid(x) = x / (1 + e^-x). */
    static FloatVector silu(FloatVector x) {
        return x.div(exp(x.neg()).add(1f));
    }

    /** Exact GELU through the same erfc fit as the scalar gelu, evaluated in float lanes. */
    static FloatVector gelu(FloatVector x) {
        return x.mul(0.5f).mul(erfcNeg(x.mul((float) INV_SQRT2)));
    }

    /** erfc(-z) = 1 + erf(z) through the erfc fit of erfcNonNegative, in float lanes (2 Phi(x) for z = x / sqrt 2). */
    static FloatVector erfcNeg(FloatVector z) {
        FloatVector az = z.abs();
        FloatVector t = FloatVector.broadcast(S, 1f).div(az.mul(0.5f).add(1f));
        FloatVector poly = t.mul(0.17087277f).add(-0.82215223f).mul(t).add(1.48851587f).mul(t).add(-1.13520398f)
                .mul(t).add(0.27886807f).mul(t).add(-0.18628806f).mul(t).add(0.09678418f).mul(t).add(0.37409196f)
                .mul(t).add(1.00002368f).mul(t).add(-1.26551223f);
        FloatVector erfcAbs = t.mul(exp(az.mul(az).neg().add(poly)));
        // erfc(-z) = erfc(|z|) when z < 0, and 2 - erfc(z) when z >= 0
        return erfcAbs.neg().add(2f).blend(erfcAbs, z.compare(VectorOperators.LT, 0f));
    }

    /** In place: a[off + j] = act(a[off + j]) for j < n. */
    static void activate(float[] a, int off, int n, Activation act) {
        if (act == null || act == Activation.NONE) {
            return;
        }
        int j = off, end = off + n;
        // one loop per activation keeps each loop body small enough to inline (no boxed vectors)
        switch (act) {
            case SILU -> {
                for (; j <= end - L; j += L) {
                    silu(FloatVector.fromArray(S, a, j)).intoArray(a, j);
                }
            }
            case GELU -> {
                for (; j <= end - L; j += L) {
                    gelu(FloatVector.fromArray(S, a, j)).intoArray(a, j);
                }
            }
            default -> {
                for (; j <= end - L; j += L) {
                    apply(act, FloatVector.fromArray(S, a, j)).intoArray(a, j);
                }
            }
        }
        for (; j < end; j++) {
            a[j] = apply(act, a[j]);
        }
    }

    /** out[o + j] = x[a + j] * gelu(x[g + j]) for j < n: one row of GEGLU. */
    static void geglu(float[] x, int a, int g, float[] out, int o, int n) {
        int j = 0;
        for (; j <= n - L; j += L) {
            FloatVector.fromArray(S, x, a + j).mul(gelu(FloatVector.fromArray(S, x, g + j))).intoArray(out, o + j);
        }
        for (; j < n; j++) {
            out[o + j] = x[a + j] * gelu(x[g + j]);
        }
    }

    /** In place: c[at + j] = act(c[at + j] + rowBias + colBias[col0 + j]) for j < n (colBias may be null). */
    static void biasActivation(float[] c, int at, int n, float rowBias, float[] colBias, int col0, Activation act) {
        if (colBias != null) {
            int j = 0;
            for (; j <= n - L; j += L) {
                FloatVector.fromArray(S, c, at + j).add(FloatVector.fromArray(S, colBias, col0 + j)).intoArray(c, at + j);
            }
            for (; j < n; j++) {
                c[at + j] += colBias[col0 + j];
            }
        }
        if (rowBias != 0f) {
            addScalar(c, at, rowBias, c, at, n);
        }
        activate(c, at, n, act);
    }

    /** dst[dstAt + j] = src[srcAt + j] + v for j < n (src and dst may be the same run). */
    static void addScalar(float[] src, int srcAt, float v, float[] dst, int dstAt, int n) {
        int j = 0;
        for (; j <= n - L; j += L) {
            FloatVector.fromArray(S, src, srcAt + j).add(v).intoArray(dst, dstAt + j);
        }
        for (; j < n; j++) {
            dst[dstAt + j] = src[srcAt + j] + v;
        }
    }
}
