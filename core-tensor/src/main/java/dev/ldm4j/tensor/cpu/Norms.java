// Normalizations and softmax of the CPU backend. Statistics accumulate in double, so rows of
// thousands of elements keep float32 accuracy; variance is biased and computed around the mean
// (two passes), as torch does.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Tensor;

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
            int at = task * cg * spatial;
            int len = cg * spatial;
            double sum = 0;
            for (int i = 0; i < len; i++) {
                sum += xf.a()[xf.off() + at + i];
            }
            double mean = sum / len;
            double sq = 0;
            for (int i = 0; i < len; i++) {
                double dd = xf.a()[xf.off() + at + i] - mean;
                sq += dd * dd;
            }
            double rstd = 1.0 / Math.sqrt(sq / len + eps);
            int ch0 = (task % groups) * cg;
            for (int cc = 0; cc < cg; cc++) {
                int ch = ch0 + cc;
                double a = rstd * (g == null ? 1.0 : g[ch]);
                double b = (bt == null ? 0.0 : bt[ch]) - mean * a;
                float af = (float) a, bf = (float) b;
                int row = at + cc * spatial;
                for (int s = 0; s < spatial; s++) {
                    float y = xf.a()[xf.off() + row + s] * af + bf;
                    out[row + s] = silu ? (float) (y / (1.0 + Math.exp(-y))) : y;
                }
            }
        });
        return Tensor.of(out, x.shape());
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
                double sum = 0;
                for (int i = 0; i < d; i++) {
                    sum += xf.a()[xf.off() + at + i];
                }
                double mean = sum / d;
                double sq = 0;
                for (int i = 0; i < d; i++) {
                    double dd = xf.a()[xf.off() + at + i] - mean;
                    sq += dd * dd;
                }
                double rstd = 1.0 / Math.sqrt(sq / d + eps);
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
