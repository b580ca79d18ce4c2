// Backward of the normalizations and softmax (Norms) on the CPU backend. The statistics are recomputed
// from x exactly as the forward computes them (Norms.meanVariance, biased variance, eps inside the square
// root); sums run in float vector lanes over chunks of 1024 elements and in double across chunks.
//
// With xhat = (x - mean) rstd, y = gamma xhat + beta and g = dL/dy (for group norm with SiLU,
// g = dy * silu'(y), silu'(y) = s (1 + y (1 - s)), s = sigmoid(y)):
//   dbeta = sum g,  dgamma = sum g xhat  (over everything but the channel),
//   dx = rstd (gamma g - mean(gamma g) - xhat mean(gamma g xhat))  (means over the normalized set).
// Reference: Ioffe and Szegedy, "Batch Normalization", ICML 2015, section 3 (the same derivation over a
// group or a row instead of a batch).
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

final class NormsBackward {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Elements summed in float lanes before the partial sum moves to double. */
    private static final int CHUNK = 64 * 16;
    /** Rows of a layer norm that share one partial dgamma/dbeta buffer. */
    private static final int ROWS_PER_PART = 32;

    private NormsBackward() {
    }

    static Tensor[] groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu, Tensor dy) {
        String op = "groupNormBackward";
        if (x.rank() < 2) {
            throw Shapes.bad(op, "x must be [N, C, *], got " + Shapes.s(x));
        }
        int n = x.dim(0), c = x.dim(1);
        if (groups <= 0 || c % groups != 0) {
            throw Shapes.bad(op, "channels " + c + " of x " + Shapes.s(x) + " not divisible by groups " + groups);
        }
        Shapes.requireVector(op, "gamma", gamma, c);
        Shapes.requireVector(op, "beta", beta, c);
        Shapes.requireSameShape(op, x, dy);
        int spatial = Shapes.prod(x.shape(), 2, x.rank());
        int cg = c / groups, len = cg * spatial;
        Views.Flat xf = Views.flat(x), df = Views.flat(dy);
        float[] g = gamma == null ? ones(c) : Views.copy(gamma);
        float[] bt = beta == null ? new float[c] : Views.copy(beta);
        float[] dx = new float[Math.toIntExact(x.numel())];
        // per (image, channel): sum g and sum g xhat; each task owns its group's channels
        double[] sumG = new double[n * c], sumGX = new double[n * c];
        Parallel.forEach(len == 0 ? 0 : n * groups, (task, worker) -> {
            int at = task * len;
            double[] meanVar = Norms.meanVariance(xf.a(), xf.off() + at, len);
            double rstd = 1.0 / Math.sqrt(meanVar[1] + eps);
            float shift = (float) meanVar[2];
            double meanShifted = meanVar[0] - shift;
            int img = task / groups, ch0 = (task % groups) * cg;
            // xhat = (x - shift) xr + xb; the forward's y = (x - shift) a + b
            float xr = (float) rstd, xb = (float) (-meanShifted * rstd);
            double[] s = new double[2];
            double sumDx = 0, sumDxX = 0;
            for (int cc = 0; cc < cg; cc++) {
                int ch = ch0 + cc, o = at + cc * spatial;
                double a = rstd * g[ch];
                double b = bt[ch] - meanShifted * a;
                if (silu) {
                    siluGradAndSums(xf.a(), xf.off() + o, df.a(), df.off() + o, dx, o, spatial, shift, (float) a, (float) b, xr, xb, s);
                } else {
                    sums(xf.a(), xf.off() + o, df.a(), df.off() + o, spatial, shift, xr, xb, s);
                }
                sumG[img * c + ch] = s[0];
                sumGX[img * c + ch] = s[1];
                sumDx += g[ch] * s[0];
                sumDxX += g[ch] * s[1];
            }
            // dx = rstd (gamma g - mA - xhat mB) = (rstd gamma) g + bx (x - shift) + cx
            double mA = sumDx / len, mB = sumDxX / len;
            float bx = (float) (-rstd * rstd * mB);
            float cx = (float) (rstd * (meanShifted * rstd * mB - mA));
            for (int cc = 0; cc < cg; cc++) {
                int ch = ch0 + cc, o = at + cc * spatial;
                float ax = (float) (rstd * g[ch]);
                if (silu) {
                    combine(dx, o, xf.a(), xf.off() + o, dx, o, spatial, shift, ax, bx, cx);
                } else {
                    combine(df.a(), df.off() + o, xf.a(), xf.off() + o, dx, o, spatial, shift, ax, bx, cx);
                }
            }
        });
        float[] dgamma = new float[c], dbeta = new float[c];
        for (int ch = 0; ch < c; ch++) {
            double sg = 0, sgx = 0;
            for (int img = 0; img < n; img++) {
                sg += sumG[img * c + ch];
                sgx += sumGX[img * c + ch];
            }
            dgamma[ch] = (float) sgx;
            dbeta[ch] = (float) sg;
        }
        return new Tensor[] {Tensor.of(dx, x.shape()), Tensor.of(dgamma, c), Tensor.of(dbeta, c)};
    }

    /** s = {sum dy, sum dy xhat} over i < n, xhat = (x - shift) xr + xb. */
    private static void sums(float[] x, int xo, float[] dy, int dyo, int n, float shift, float xr, float xb, double[] s) {
        double s0 = 0, s1 = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int end = Math.min(n, c + CHUNK);
            FloatVector a0 = FloatVector.zero(S), a1 = a0;
            int i = c;
            for (; i <= end - L; i += L) {
                FloatVector xh = FloatVector.fromArray(S, x, xo + i).sub(shift).fma(xr, xb);
                FloatVector gv = FloatVector.fromArray(S, dy, dyo + i);
                a0 = a0.add(gv);
                a1 = gv.fma(xh, a1);
            }
            double p0 = Pointwise.sumLanes(a0), p1 = Pointwise.sumLanes(a1);
            for (; i < end; i++) {
                float xh = (x[xo + i] - shift) * xr + xb;
                p0 += dy[dyo + i];
                p1 += dy[dyo + i] * xh;
            }
            s0 += p0;
            s1 += p1;
        }
        s[0] = s0;
        s[1] = s1;
    }

    /**
     * g[go + i] = dy * silu'(y) with y = (x - shift) a + b the forward's pre-SiLU value, for i < n; and
     * s = {sum g, sum g xhat}, xhat = (x - shift) xr + xb.
     */
    private static void siluGradAndSums(float[] x, int xo, float[] dy, int dyo, float[] g, int go, int n, float shift,
                                        float a, float b, float xr, float xb, double[] s) {
        double s0 = 0, s1 = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int end = Math.min(n, c + CHUNK);
            FloatVector a0 = FloatVector.zero(S), a1 = a0;
            int i = c;
            for (; i <= end - L; i += L) {
                FloatVector xs = FloatVector.fromArray(S, x, xo + i).sub(shift);
                FloatVector y = xs.fma(a, b);
                FloatVector gv = FloatVector.fromArray(S, dy, dyo + i).mul(PointwiseBackward.siluGrad(y));
                gv.intoArray(g, go + i);
                a0 = a0.add(gv);
                a1 = gv.fma(xs.fma(xr, xb), a1);
            }
            double p0 = Pointwise.sumLanes(a0), p1 = Pointwise.sumLanes(a1);
            for (; i < end; i++) {
                float xs = x[xo + i] - shift;
                float gi = dy[dyo + i] * PointwiseBackward.siluGrad(xs * a + b);
                g[go + i] = gi;
                p0 += gi;
                p1 += gi * (xs * xr + xb);
            }
            s0 += p0;
            s1 += p1;
        }
        s[0] = s0;
        s[1] = s1;
    }

    /** out[o + i] = ax g[go + i] + bx (x[xo + i] - shift) + cx for i < n (out may be g itself). */
    private static void combine(float[] g, int go, float[] x, int xo, float[] out, int o, int n, float shift, float ax, float bx, float cx) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector xs = FloatVector.fromArray(S, x, xo + i).sub(shift);
            FloatVector.fromArray(S, g, go + i).fma(FloatVector.broadcast(S, ax), xs.fma(bx, cx)).intoArray(out, o + i);
        }
        for (; i < n; i++) {
            out[o + i] = g[go + i] * ax + ((x[xo + i] - shift) * bx + cx);
        }
    }

    static Tensor[] layerNorm(Tensor x, Tensor gamma, float eps, Tensor dy) {
        String op = "layerNormBackward";
        if (x.rank() < 1) {
            throw Shapes.bad(op, "x must have rank >= 1");
        }
        int d = x.dim(-1);
        Shapes.requireVector(op, "gamma", gamma, d);
        Shapes.requireSameShape(op, x, dy);
        int rows = Math.toIntExact(d == 0 ? 0 : x.numel() / d);
        Views.Flat xf = Views.flat(x), df = Views.flat(dy);
        float[] g = gamma == null ? ones(d) : Views.copy(gamma);
        float[] dx = new float[Math.toIntExact(x.numel())];
        // partial {dgamma, dbeta} per fixed block of rows, summed in block order: the same bits on any thread count
        int parts = (rows + ROWS_PER_PART - 1) / ROWS_PER_PART;
        int dp = (d + L - 1) / L * L;
        float[] partial = new float[parts * 2 * dp];
        Parallel.forEach(parts, (part, worker) -> {
            int dgAt = part * 2 * dp, dbAt = dgAt + dp;
            float[] xh = new float[dp];
            for (int r = part * ROWS_PER_PART; r < Math.min(rows, (part + 1) * ROWS_PER_PART); r++) {
                int xo = xf.off() + r * d, dyo = df.off() + r * d;
                double[] meanVar = Norms.meanVariance(xf.a(), xo, d);
                double rstd = 1.0 / Math.sqrt(meanVar[1] + eps);
                float shift = (float) meanVar[2];
                float xr = (float) rstd, xb = (float) (-(meanVar[0] - shift) * rstd);
                // pass 1: xhat, the row sums of gamma g and gamma g xhat, and this part's dgamma, dbeta
                FloatVector a0 = FloatVector.zero(S), a1 = a0;
                int i = 0;
                for (; i <= d - L; i += L) {
                    FloatVector xv = FloatVector.fromArray(S, xf.a(), xo + i).sub(shift).fma(xr, xb);
                    FloatVector gv = FloatVector.fromArray(S, df.a(), dyo + i);
                    xv.intoArray(xh, i);
                    gv.fma(xv, FloatVector.fromArray(S, partial, dgAt + i)).intoArray(partial, dgAt + i);
                    gv.add(FloatVector.fromArray(S, partial, dbAt + i)).intoArray(partial, dbAt + i);
                    FloatVector gg = gv.mul(FloatVector.fromArray(S, g, i));
                    a0 = a0.add(gg);
                    a1 = gg.fma(xv, a1);
                }
                double s0 = Pointwise.sumLanes(a0), s1 = Pointwise.sumLanes(a1);
                for (; i < d; i++) {
                    float xv = (xf.a()[xo + i] - shift) * xr + xb;
                    float gv = df.a()[dyo + i];
                    xh[i] = xv;
                    partial[dgAt + i] += gv * xv;
                    partial[dbAt + i] += gv;
                    s0 += g[i] * gv;
                    s1 += g[i] * gv * xv;
                }
                // pass 2: dx = rstd (gamma g - mA - xhat mB)
                float mA = (float) (s0 / d), mB = (float) (s1 / d);
                i = 0;
                for (; i <= d - L; i += L) {
                    FloatVector gg = FloatVector.fromArray(S, df.a(), dyo + i).mul(FloatVector.fromArray(S, g, i));
                    gg.sub(mA).sub(FloatVector.fromArray(S, xh, i).mul(mB)).mul(xr).intoArray(dx, r * d + i);
                }
                for (; i < d; i++) {
                    dx[r * d + i] = (df.a()[dyo + i] * g[i] - mA - xh[i] * mB) * xr;
                }
            }
        });
        float[] dgamma = new float[d], dbeta = new float[d];
        double[] sg = new double[d], sb = new double[d];
        for (int part = 0; part < parts; part++) {
            for (int i = 0; i < d; i++) {
                sg[i] += partial[part * 2 * dp + i];
                sb[i] += partial[part * 2 * dp + dp + i];
            }
        }
        for (int i = 0; i < d; i++) {
            dgamma[i] = (float) sg[i];
            dbeta[i] = (float) sb[i];
        }
        return new Tensor[] {Tensor.of(dx, x.shape()), Tensor.of(dgamma, d), Tensor.of(dbeta, d)};
    }

    /** dx = y (dy - sum(dy y)) per row of the last dimension. */
    static Tensor softmax(Tensor y, Tensor dy) {
        String op = "softmaxBackward";
        if (y.rank() < 1) {
            throw Shapes.bad(op, "y must have rank >= 1");
        }
        Shapes.requireSameShape(op, y, dy);
        int d = y.dim(-1);
        int rows = Math.toIntExact(d == 0 ? 0 : y.numel() / d);
        Views.Flat yf = Views.flat(y), df = Views.flat(dy);
        float[] dx = new float[Math.toIntExact(y.numel())];
        Parallel.forRange(rows, Math.max(1, (1 << 14) / Math.max(1, d)), (from, to, worker) -> {
            for (int r = from; r < to; r++) {
                int yo = yf.off() + r * d, dyo = df.off() + r * d;
                float dot = (float) dot(yf.a(), yo, df.a(), dyo, d);
                int i = 0;
                for (; i <= d - L; i += L) {
                    FloatVector.fromArray(S, df.a(), dyo + i).sub(dot).mul(FloatVector.fromArray(S, yf.a(), yo + i)).intoArray(dx, r * d + i);
                }
                for (; i < d; i++) {
                    dx[r * d + i] = (df.a()[dyo + i] - dot) * yf.a()[yo + i];
                }
            }
        });
        return Tensor.of(dx, y.shape());
    }

    /** sum a[ao + i] b[bo + i] for i < n. */
    static double dot(float[] a, int ao, float[] b, int bo, int n) {
        double s = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int end = Math.min(n, c + CHUNK);
            FloatVector acc = FloatVector.zero(S);
            int i = c;
            for (; i <= end - L; i += L) {
                acc = FloatVector.fromArray(S, a, ao + i).fma(FloatVector.fromArray(S, b, bo + i), acc);
            }
            double p = Pointwise.sumLanes(acc);
            for (; i < end; i++) {
                p += a[ao + i] * b[bo + i];
            }
            s += p;
        }
        return s;
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        Arrays.fill(a, 1f);
        return a;
    }
}
