// Normalizations and softmax of the CPU backend. Statistics accumulate in float vector lanes over
// chunks of 1024 elements and in double across chunks, so groups of 10^5 elements keep float32
// accuracy; variance is biased, as torch computes it, from sums of values shifted by a sample.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

final class Norms {
    private Norms() {
    }

    static Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        String op = "groupNorm";
        if (x.rank() < 2) {
            throw Shapes.bad(op, "x must be [N, C, *], got " + Shapes.s(x));
        }
        int n = x.dim(0), c = x.dim(1);
        if (groups <= 0 || c % groups != 0) {
            throw Shapes.bad(op, "channels " + c + " of x " + Shapes.s(x) + " not divisible by groups " + groups);
        }
        Shapes.requireVector(op, "gamma", gamma, c);
        Shapes.requireVector(op, "beta", beta, c);
        int spatial = Shapes.prod(x.shape(), 2, x.rank());
        int cg = c / groups;
        Views.Flat xf = Views.flat(x);
        float[] g = gamma == null ? null : Views.copy(gamma);
        float[] bt = beta == null ? null : Views.copy(beta);
        float[] out = new float[Math.toIntExact(x.numel())];
        Parallel.forEach(n * groups, (task, worker) -> {
            int at = xf.off() + task * cg * spatial;
            int len = cg * spatial;
            double[] meanVar = meanVariance(xf.a(), at, len);
            double rstd = 1.0 / Math.sqrt(meanVar[1] + eps);
            // y = (x - mean) a + beta evaluated as (x - shift) a + (beta - (mean - shift) a): x - shift is
            // exact near the data, so a mean far larger than the spread costs no accuracy
            float shift = (float) meanVar[2];
            double meanShifted = meanVar[0] - shift;
            int ch0 = (task % groups) * cg;
            for (int cc = 0; cc < cg; cc++) {
                int ch = ch0 + cc;
                double a = rstd * (g == null ? 1.0 : g[ch]);
                double b = (bt == null ? 0.0 : bt[ch]) - meanShifted * a;
                scaleShift(xf.a(), at + cc * spatial, out, (task * cg + cc) * spatial, spatial, shift, (float) a, (float) b, silu);
            }
        });
        return Tensor.of(out, x.shape());
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Elements summed in float lanes before the partial sum moves to double. */
    private static final int CHUNK = 64 * 16;

    /**
     * {mean, biased variance, shift} of x[at .. at + n) in one pass over shifted values d = x - x[at]:
     * var = (sum d^2 - (sum d)^2 / n) / n. The shift (a sample of the data) keeps the subtraction from
     * cancelling when the mean is large against the spread (Chan, Golub and LeVeque, "Algorithms for
     * computing the sample variance", The American Statistician 37(3), 1983, section 3).
     */
    static double[] meanVariance(float[] x, int at, int n) {
        float shift = x[at];
        double s1 = 0, s2 = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int end = Math.min(n, c + CHUNK);
            FloatVector a1 = FloatVector.zero(S), a2 = FloatVector.zero(S);
            int i = c;
            for (; i <= end - L; i += L) {
                FloatVector d = FloatVector.fromArray(S, x, at + i).sub(shift);
                a1 = a1.add(d);
                a2 = d.fma(d, a2);
            }
            double p1 = Pointwise.sumLanes(a1), p2 = Pointwise.sumLanes(a2);
            for (; i < end; i++) {
                double d = x[at + i] - shift;
                p1 += d;
                p2 += d * d;
            }
            s1 += p1;
            s2 += p2;
        }
        double meanShifted = s1 / n;
        return new double[] {shift + meanShifted, Math.max(0, s2 / n - meanShifted * meanShifted), shift};
    }

    /** out[o + i] = (x[at + i] - shift) a + b, then SiLU when silu, for i < n. */
    static void scaleShift(float[] x, int at, float[] out, int o, int n, float shift, float a, float b, boolean silu) {
        int i = 0;
        if (silu) {
            for (; i <= n - L; i += L) {
                Pointwise.silu(FloatVector.fromArray(S, x, at + i).sub(shift).fma(a, b)).intoArray(out, o + i);
            }
        } else {
            for (; i <= n - L; i += L) {
                FloatVector.fromArray(S, x, at + i).sub(shift).fma(a, b).intoArray(out, o + i);
            }
        }
        for (; i < n; i++) {
            float y = (x[at + i] - shift) * a + b;
            out[o + i] = silu ? Pointwise.apply(dev.ldm4j.tensor.Activation.SILU, y) : y;
        }
    }

    static Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        String op = "layerNorm";
        if (x.rank() < 1) {
            throw Shapes.bad(op, "x must have rank >= 1");
        }
        int d = x.dim(-1);
        Shapes.requireVector(op, "gamma", gamma, d);
        Shapes.requireVector(op, "beta", beta, d);
        int rows = Math.toIntExact(d == 0 ? 0 : x.numel() / d);
        Views.Flat xf = Views.flat(x);
        float[] g = gamma == null ? null : Views.copy(gamma);
        float[] bt = beta == null ? null : Views.copy(beta);
        float[] out = new float[Math.toIntExact(x.numel())];
        Parallel.forRange(rows, 16, (from, to, worker) -> {
            for (int r = from; r < to; r++) {
                int at = r * d;
                double[] meanVar = meanVariance(xf.a(), xf.off() + at, d);
                double mean = meanVar[0];
                double rstd = 1.0 / Math.sqrt(meanVar[1] + eps);
                for (int i = 0; i < d; i++) {
                    double y = (xf.a()[xf.off() + at + i] - mean) * rstd;
                    out[at + i] = (float) (y * (g == null ? 1.0 : g[i]) + (bt == null ? 0.0 : bt[i]));
                }
            }
        });
        return Tensor.of(out, x.shape());
    }

    static Tensor softmax(Tensor x) {
        if (x.rank() < 1) {
            throw Shapes.bad("softmax", "x must have rank >= 1");
        }
        int d = x.dim(-1);
        int rows = Math.toIntExact(d == 0 ? 0 : x.numel() / d);
        Views.Flat xf = Views.flat(x);
        float[] out = new float[Math.toIntExact(x.numel())];
        Parallel.forRange(rows, 16, (from, to, worker) -> {
            for (int r = from; r < to; r++) {
                int at = r * d;
                float max = Float.NEGATIVE_INFINITY;
                for (int i = 0; i < d; i++) {
                    max = Math.max(max, xf.a()[xf.off() + at + i]);
                }
                double sum = 0;
                for (int i = 0; i < d; i++) {
                    float e = (float) Math.exp(xf.a()[xf.off() + at + i] - max);
                    out[at + i] = e;
                    sum += e;
                }
                float inv = (float) (1.0 / sum);
                for (int i = 0; i < d; i++) {
                    out[at + i] *= inv;
                }
            }
        });
        return Tensor.of(out, x.shape());
    }
}
