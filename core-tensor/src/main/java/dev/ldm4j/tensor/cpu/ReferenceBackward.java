// The scalar twins of the backward primitives, for CpuReference: plain loops over logical indices in
// double, no blocking, no threads, no vectors. Each recomputes what it needs from the forward's inputs
// exactly as CpuReference's forward computes it, then applies the chain rule written out in full.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Tensor;

final class ReferenceBackward {
    private ReferenceBackward() {
    }

    private static double at(float[] a, int i) {
        return a == null ? 1.0 : a[i];
    }

    /**
     * Group norm: per (image, group) of M elements, xhat = (x - mean) / sqrt(var + eps), y = gamma xhat + beta,
     * g = dy (or dy silu'(y)); dx = rstd (gamma g - mean(gamma g) - xhat mean(gamma g xhat)).
     */
    static Tensor[] groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu, Tensor dy) {
        int n = x.dim(0), c = x.dim(1);
        int spatial = Shapes.prod(x.shape(), 2, x.rank());
        int cg = c / groups, len = cg * spatial;
        float[] xa = x.toFloatArray(), ga = dy.toFloatArray();
        float[] g = gamma == null ? null : gamma.toFloatArray(), bt = beta == null ? null : beta.toFloatArray();
        float[] dx = new float[xa.length];
        double[] dgamma = new double[c], dbeta = new double[c];
        double[] xhat = new double[len], grad = new double[len];
        for (int img = 0; img < n; img++) {
            for (int gr = 0; gr < groups; gr++) {
                int base = (img * c + gr * cg) * spatial;
                double mean = 0, var = 0;
                for (int i = 0; i < len; i++) {
                    mean += xa[base + i];
                }
                mean /= len;
                for (int i = 0; i < len; i++) {
                    var += (xa[base + i] - mean) * (xa[base + i] - mean);
                }
                var /= len;
                double rstd = 1 / Math.sqrt(var + eps);
                double sumA = 0, sumB = 0;
                for (int i = 0; i < len; i++) {
                    int ch = gr * cg + i / spatial;
                    xhat[i] = (xa[base + i] - mean) * rstd;
                    double y = xhat[i] * at(g, ch) + (bt == null ? 0 : bt[ch]);
                    double s = 1 / (1 + Math.exp(-y));
                    grad[i] = ga[base + i] * (silu ? s * (1 + y * (1 - s)) : 1);
                    dgamma[ch] += grad[i] * xhat[i];
                    dbeta[ch] += grad[i];
                    sumA += at(g, ch) * grad[i];
                    sumB += at(g, ch) * grad[i] * xhat[i];
                }
                for (int i = 0; i < len; i++) {
                    int ch = gr * cg + i / spatial;
                    dx[base + i] = (float) (rstd * (at(g, ch) * grad[i] - sumA / len - xhat[i] * sumB / len));
                }
            }
        }
        return new Tensor[] {Tensor.of(dx, x.shape()), Tensor.of(toFloat(dgamma), c), Tensor.of(toFloat(dbeta), c)};
    }

    /** Layer norm: the group norm formula over each row of the last dimension, gamma per column. */
    static Tensor[] layerNorm(Tensor x, Tensor gamma, float eps, Tensor dy) {
        int d = x.dim(-1);
        float[] xa = x.toFloatArray(), ga = dy.toFloatArray(), g = gamma == null ? null : gamma.toFloatArray();
        float[] dx = new float[xa.length];
        double[] dgamma = new double[d], dbeta = new double[d], xhat = new double[d];
        for (int r = 0; d > 0 && r < xa.length / d; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) {
                mean += xa[r * d + i];
            }
            mean /= d;
            for (int i = 0; i < d; i++) {
                var += (xa[r * d + i] - mean) * (xa[r * d + i] - mean);
            }
            var /= d;
            double rstd = 1 / Math.sqrt(var + eps);
            double sumA = 0, sumB = 0;
            for (int i = 0; i < d; i++) {
                xhat[i] = (xa[r * d + i] - mean) * rstd;
                double gi = ga[r * d + i];
                dgamma[i] += gi * xhat[i];
                dbeta[i] += gi;
                sumA += at(g, i) * gi;
                sumB += at(g, i) * gi * xhat[i];
            }
            for (int i = 0; i < d; i++) {
                dx[r * d + i] = (float) (rstd * (at(g, i) * ga[r * d + i] - sumA / d - xhat[i] * sumB / d));
            }
        }
        return new Tensor[] {Tensor.of(dx, x.shape()), Tensor.of(toFloat(dgamma), d), Tensor.of(toFloat(dbeta), d)};
    }

    /** dx_i = y_i (dy_i - sum_j dy_j y_j) per row. */
    static Tensor softmax(Tensor y, Tensor dy) {
        int d = y.dim(-1);
        float[] ya = y.toFloatArray(), ga = dy.toFloatArray();
        float[] dx = new float[ya.length];
        for (int r = 0; d > 0 && r < ya.length / d; r++) {
            double dot = 0;
            for (int i = 0; i < d; i++) {
                dot += (double) ya[r * d + i] * ga[r * d + i];
            }
            for (int i = 0; i < d; i++) {
                dx[r * d + i] = (float) (ya[r * d + i] * (ga[r * d + i] - dot));
            }
        }
        return Tensor.of(dx, y.shape());
    }

    /**
     * Attention, one query row at a time: p = softmax(scale q_i K^T) over the visible keys, D = dO_i . out_i,
     * dV_j += p_j dO_i, dS_j = p_j (dO_i . v_j - D), dQ_i = scale sum_j dS_j k_j, dK_j += scale dS_j q_i.
     */
    static Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor out, Tensor dOut, int heads, float scale, boolean causal) {
        int b = q.dim(0), lq = q.dim(1), width = q.dim(2), lk = k.dim(1), dh = width / heads;
        float[] qa = q.toFloatArray(), ka = k.toFloatArray(), va = v.toFloatArray(), oa = out.toFloatArray(), ga = dOut.toFloatArray();
        float[] dq = new float[qa.length];
        double[] dk = new double[ka.length], dv = new double[va.length];
        double[] p = new double[lk];
        for (int bi = 0; bi < b; bi++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < lq; i++) {
                    int qi = (bi * lq + i) * width + h * dh;
                    int keys = causal ? Math.min(lk, i + 1) : lk;
                    double max = Double.NEGATIVE_INFINITY, sum = 0, delta = 0;
                    for (int j = 0; j < keys; j++) {
                        double dot = 0;
                        for (int e = 0; e < dh; e++) {
                            dot += (double) qa[qi + e] * ka[(bi * lk + j) * width + h * dh + e];
                        }
                        p[j] = dot * scale;
                        max = Math.max(max, p[j]);
                    }
                    for (int j = 0; j < keys; j++) {
                        p[j] = Math.exp(p[j] - max);
                        sum += p[j];
                    }
                    for (int e = 0; e < dh; e++) {
                        delta += (double) ga[qi + e] * oa[qi + e];
                    }
                    double[] dqi = new double[dh];
                    for (int j = 0; j < keys; j++) {
                        int kj = (bi * lk + j) * width + h * dh;
                        double pj = p[j] / sum, dp = 0;
                        for (int e = 0; e < dh; e++) {
                            dv[kj + e] += pj * ga[qi + e];
                            dp += (double) ga[qi + e] * va[kj + e];
                        }
                        double ds = pj * (dp - delta);
                        for (int e = 0; e < dh; e++) {
                            dqi[e] += scale * ds * ka[kj + e];
                            dk[kj + e] += scale * ds * qa[qi + e];
                        }
                    }
                    for (int e = 0; e < dh; e++) {
                        dq[qi + e] = (float) dqi[e];
                    }
                }
            }
        }
        return new Tensor[] {Tensor.of(dq, q.shape()), Tensor.of(toFloat(dk), k.shape()), Tensor.of(toFloat(dv), v.shape())};
    }

    /** dy act'(x), act' from CpuReference.act's definitions. */
    static Tensor activation(Tensor x, Tensor dy, Activation act) {
        float[] xa = x.toFloatArray(), ga = dy.toFloatArray();
        for (int i = 0; i < xa.length; i++) {
            xa[i] = (float) (ga[i] * actGrad(act == null ? Activation.NONE : act, xa[i]));
        }
        return Tensor.of(xa, x.shape());
    }

    /** [value, gate] -> [dy gelu(gate), dy value gelu'(gate)]. */
    static Tensor geglu(Tensor x, Tensor dy) {
        int two = x.dim(-1), f = two / 2;
        float[] xa = x.toFloatArray(), ga = dy.toFloatArray();
        float[] dx = new float[xa.length];
        for (int r = 0; two > 0 && r < xa.length / two; r++) {
            for (int j = 0; j < f; j++) {
                double value = xa[r * two + j], gate = xa[r * two + f + j], g = ga[r * f + j];
                dx[r * two + j] = (float) (g * CpuReference.act(Activation.GELU, gate));
                dx[r * two + f + j] = (float) (g * value * actGrad(Activation.GELU, gate));
            }
        }
        return Tensor.of(dx, x.shape());
    }

    /** The derivatives of the activations, in double. */
    static double actGrad(Activation act, double x) {
        return switch (act) {
            case NONE -> 1;
            case SILU -> {
                double s = 1 / (1 + Math.exp(-x));
                yield s * (1 + x * (1 - s));
            }
            case GELU -> 0.5 * (1 + CpuReference.erf(x / Math.sqrt(2))) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
            case GELU_TANH -> {
                double k = Math.sqrt(2 / Math.PI), t = Math.tanh(k * (x + 0.044715 * x * x * x));
                yield 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
            }
            case QUICK_GELU -> {
                double s = 1 / (1 + Math.exp(-1.702 * x));
                yield s + 1.702 * x * s * (1 - s);
            }
        };
    }

    private static float[] toFloat(double[] a) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (float) a[i];
        }
        return out;
    }
}
