// The scalar twin of every CPU op: plain loops over logical indices, double accumulation, no
// blocking, no threads, no vectors. Slow and obviously correct; the fast backends are tested
// against it on seeded random inputs. Read an op here first to see what it computes.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Device;
import dev.ldm4j.tensor.Tensor;

import java.util.Arrays;

public final class CpuReference implements Backend {
    @Override
    public String name() {
        return "cpu-reference";
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public Tensor toDevice(Tensor host) {
        return host;
    }

    @Override
    public Tensor toHost(Tensor t) {
        return Tensor.of(t.toFloatArray(), t.shape());
    }

    @Override
    public Tensor contiguous(Tensor t) {
        return toHost(t);
    }

    /** Row-major index of a broadcast operand for output multi-index idx (numpy rules). */
    private static int broadcastIndex(int[] shape, int[] idx) {
        int at = 0;
        int lead = idx.length - shape.length;
        for (int i = 0; i < shape.length; i++) {
            at = at * shape[i] + (shape[i] == 1 ? 0 : idx[lead + i]);
        }
        return at;
    }

    private static int[] unravel(int flat, int[] shape) {
        int[] idx = new int[shape.length];
        for (int i = shape.length - 1; i >= 0; i--) {
            idx[i] = flat % shape[i];
            flat /= shape[i];
        }
        return idx;
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        int m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        int[] aBatch = Arrays.copyOf(a.shape(), a.rank() - 2), bBatch = Arrays.copyOf(b.shape(), b.rank() - 2);
        int[] batch = Shapes.broadcast("matmul", aBatch, bBatch);
        int batches = Shapes.prod(batch, 0, batch.length);
        float[] x = a.toFloatArray(), y = b.toFloatArray();
        float[] out = new float[batches * m * n];
        for (int bi = 0; bi < batches; bi++) {
            int[] idx = unravel(bi, batch);
            int ao = broadcastIndex(aBatch, idx) * m * k, bo = broadcastIndex(bBatch, idx) * k * n;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        s += (double) x[ao + i * k + p] * y[bo + p * n + j];
                    }
                    out[(bi * m + i) * n + j] = (float) s;
                }
            }
        }
        int[] shape = Arrays.copyOf(batch, batch.length + 2);
        shape[batch.length] = m;
        shape[batch.length + 1] = n;
        return Tensor.of(out, shape);
    }

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias, Activation act) {
        int k = x.dim(-1), n = w.dim(0);
        int m = Shapes.prod(x.shape(), 0, x.rank() - 1);
        float[] xa = x.toFloatArray(), wa = w.toFloatArray(), ba = bias == null ? null : bias.toFloatArray();
        float[] out = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = ba == null ? 0 : ba[j];
                for (int p = 0; p < k; p++) {
                    s += (double) xa[i * k + p] * wa[j * k + p];
                }
                out[i * n + j] = (float) act(act == null ? Activation.NONE : act, s);
            }
        }
        int[] shape = x.shape();
        shape[shape.length - 1] = n;
        return Tensor.of(out, shape);
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int pt, int pb, int pl, int pr) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int o = w.dim(0), kh = w.dim(2), kw = w.dim(3);
        int oh = (h + pt + pb - kh) / stride + 1, ow = (wd + pl + pr - kw) / stride + 1;
        float[] xa = x.toFloatArray(), wa = w.toFloatArray(), ba = bias == null ? null : bias.toFloatArray();
        float[] out = new float[n * o * oh * ow];
        for (int img = 0; img < n; img++) {
            for (int oc = 0; oc < o; oc++) {
                for (int oy = 0; oy < oh; oy++) {
                    for (int ox = 0; ox < ow; ox++) {
                        double s = ba == null ? 0 : ba[oc];
                        for (int ci = 0; ci < c; ci++) {
                            for (int ky = 0; ky < kh; ky++) {
                                for (int kx = 0; kx < kw; kx++) {
                                    int iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
                                    if (iy >= 0 && iy < h && ix >= 0 && ix < wd) {
                                        s += (double) xa[((img * c + ci) * h + iy) * wd + ix] * wa[((oc * c + ci) * kh + ky) * kw + kx];
                                    }
                                }
                            }
                        }
                        out[((img * o + oc) * oh + oy) * ow + ox] = (float) s;
                    }
                }
            }
        }
        return Tensor.of(out, n, o, oh, ow);
    }

    @Override
    public Tensor conv2dBackwardInput(Tensor dy, Tensor w, int inH, int inW, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        return ReferenceConvBackward.conv2dBackwardInput(dy, w, inH, inW, stride, padTop, padBottom, padLeft, padRight);
    }

    @Override
    public Tensor conv2dBackwardWeight(Tensor x, Tensor dy, int kh, int kw, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        return ReferenceConvBackward.conv2dBackwardWeight(x, dy, kh, kw, stride, padTop, padBottom, padLeft, padRight);
    }

    @Override
    public Tensor embeddingBackward(Tensor dy, int[] ids, int rows) {
        return ReferenceScatterAdd.embeddingBackward(dy, ids, rows);
    }

    @Override
    public Tensor zeros(int... shape) {
        return ReferenceScatterAdd.zeros(shape);
    }

    @Override
    public void accumulate(Tensor target, Tensor src) {
        ReferenceScatterAdd.accumulate(target, src);
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        int n = x.dim(0), c = x.dim(1);
        int spatial = Shapes.prod(x.shape(), 2, x.rank());
        int cg = c / groups;
        float[] xa = x.toFloatArray(), g = gamma.toFloatArray(), bt = beta.toFloatArray();
        float[] out = new float[xa.length];
        for (int img = 0; img < n; img++) {
            for (int gr = 0; gr < groups; gr++) {
                int at = (img * c + gr * cg) * spatial, len = cg * spatial;
                double mean = 0, var = 0;
                for (int i = 0; i < len; i++) {
                    mean += xa[at + i];
                }
                mean /= len;
                for (int i = 0; i < len; i++) {
                    var += (xa[at + i] - mean) * (xa[at + i] - mean);
                }
                var /= len;
                for (int i = 0; i < len; i++) {
                    int ch = gr * cg + i / spatial;
                    double y = (xa[at + i] - mean) / Math.sqrt(var + eps) * g[ch] + bt[ch];
                    out[at + i] = (float) (silu ? act(Activation.SILU, y) : y);
                }
            }
        }
        return Tensor.of(out, x.shape());
    }

    // ---- backward of the norms, softmax, attention and pointwise ops: scalar twins in ReferenceBackward

    @Override
    public Tensor[] groupNormBackward(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu, Tensor dy) {
        return ReferenceBackward.groupNorm(x, groups, gamma, beta, eps, silu, dy);
    }

    @Override
    public Tensor[] layerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy) {
        return ReferenceBackward.layerNorm(x, gamma, eps, dy);
    }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor dy) {
        return ReferenceBackward.softmax(y, dy);
    }

    @Override
    public Tensor[] attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor dOut, int heads, float scale, boolean causal) {
        return ReferenceBackward.attention(q, k, v, out, dOut, heads, scale, causal);
    }

    @Override
    public Tensor activationBackward(Tensor x, Tensor dy, Activation act) {
        return ReferenceBackward.activation(x, dy, act);
    }

    @Override
    public Tensor gegluBackward(Tensor x, Tensor dy) {
        return ReferenceBackward.geglu(x, dy);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        int d = x.dim(-1);
        float[] xa = x.toFloatArray(), g = gamma.toFloatArray(), bt = beta.toFloatArray();
        float[] out = new float[xa.length];
        for (int r = 0; r < xa.length / d; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) {
                mean += xa[r * d + i];
            }
            mean /= d;
            for (int i = 0; i < d; i++) {
                var += (xa[r * d + i] - mean) * (xa[r * d + i] - mean);
            }
            var /= d;
            for (int i = 0; i < d; i++) {
                out[r * d + i] = (float) ((xa[r * d + i] - mean) / Math.sqrt(var + eps) * g[i] + bt[i]);
            }
        }
        return Tensor.of(out, x.shape());
    }

    @Override
    public Tensor softmax(Tensor x) {
        int d = x.dim(-1);
        float[] xa = x.toFloatArray();
        float[] out = new float[xa.length];
        for (int r = 0; r < xa.length / d; r++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < d; i++) {
                max = Math.max(max, xa[r * d + i]);
            }
            for (int i = 0; i < d; i++) {
                sum += Math.exp(xa[r * d + i] - max);
            }
            for (int i = 0; i < d; i++) {
                out[r * d + i] = (float) (Math.exp(xa[r * d + i] - max) / sum);
            }
        }
        return Tensor.of(out, x.shape());
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        int b = q.dim(0), lq = q.dim(1), width = q.dim(2), lk = k.dim(1), dh = width / heads;
        float[] qa = q.toFloatArray(), ka = k.toFloatArray(), va = v.toFloatArray();
        float[] out = new float[b * lq * width];
        double[] s = new double[lk];
        for (int bi = 0; bi < b; bi++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < lq; i++) {
                    int keys = causal ? Math.min(lk, i + 1) : lk;
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < keys; j++) {
                        double dot = 0;
                        for (int e = 0; e < dh; e++) {
                            dot += (double) qa[(bi * lq + i) * width + h * dh + e] * ka[(bi * lk + j) * width + h * dh + e];
                        }
                        s[j] = dot * scale;
                        max = Math.max(max, s[j]);
                    }
                    for (int j = 0; j < keys; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int e = 0; e < dh; e++) {
                        double o = 0;
                        for (int j = 0; j < keys; j++) {
                            o += s[j] * va[(bi * lk + j) * width + h * dh + e];
                        }
                        out[(bi * lq + i) * width + h * dh + e] = (float) (o / sum);
                    }
                }
            }
        }
        return Tensor.of(out, b, lq, width);
    }

    /**
     * erf(x) in double from the everywhere-convergent series of Abramowitz and Stegun, Handbook of
     * Mathematical Functions, 7.1.6: erf x = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (1*3*...*(2n+1)).
     * Its terms are all positive (no cancellation); |x| >= 6 gives +-1 to double precision.
     */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (ax >= 6) {
            return Math.signum(x);
        }
        double term = ax, sum = ax;
        for (int n = 1; n < 200 && term > 1e-17 * sum; n++) {
            term *= 2 * ax * ax / (2 * n + 1);
            sum += term;
        }
        return Math.signum(x) * 2 / Math.sqrt(Math.PI) * Math.exp(-ax * ax) * sum;
    }

    /** The activations' definitions (see Activation), in double. */
    static double act(Activation act, double x) {
        return switch (act) {
            case NONE -> x;
            case SILU -> x / (1 + Math.exp(-x));
            case GELU -> 0.5 * x * (1 + erf(x / Math.sqrt(2)));
            case GELU_TANH -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            case QUICK_GELU -> x / (1 + Math.exp(-1.702 * x));
        };
    }

    @Override
    public Tensor activation(Tensor x, Activation act) {
        float[] xa = x.toFloatArray();
        for (int i = 0; i < xa.length; i++) {
            xa[i] = (float) act(act, xa[i]);
        }
        return Tensor.of(xa, x.shape());
    }

    @Override
    public Tensor geglu(Tensor x) {
        int two = x.dim(-1), f = two / 2;
        float[] xa = x.toFloatArray();
        float[] out = new float[xa.length / 2];
        for (int r = 0; r < xa.length / two; r++) {
            for (int j = 0; j < f; j++) {
                out[r * f + j] = (float) (xa[r * two + j] * act(Activation.GELU, xa[r * two + f + j]));
            }
        }
        int[] shape = x.shape();
        shape[shape.length - 1] = f;
        return Tensor.of(out, shape);
    }

    private static Tensor binary(Tensor a, Tensor b, int op) {
        int[] shape = Shapes.broadcast("binary", a.shape(), b.shape());
        float[] x = a.toFloatArray(), y = b.toFloatArray();
        float[] out = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < out.length; i++) {
            int[] idx = unravel(i, shape);
            float u = x[broadcastIndex(a.shape(), idx)], v = y[broadcastIndex(b.shape(), idx)];
            out[i] = op == 0 ? u + v : op == 1 ? u - v : u * v;
        }
        return Tensor.of(out, shape);
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return binary(a, b, 0);
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return binary(a, b, 1);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return binary(a, b, 2);
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        float[] xa = x.toFloatArray();
        for (int i = 0; i < xa.length; i++) {
            xa[i] *= s;
        }
        return Tensor.of(xa, x.shape());
    }

    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        float[] xa = x.toFloatArray();
        for (int i = 0; i < xa.length; i++) {
            xa[i] = Math.min(Math.max(xa[i], lo), hi);
        }
        return Tensor.of(xa, x.shape());
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        float[] out = new float[n * c * 4 * h * w];
        for (int p = 0; p < n * c; p++) {
            for (int y = 0; y < 2 * h; y++) {
                for (int xx = 0; xx < 2 * w; xx++) {
                    out[(p * 2 * h + y) * 2 * w + xx] = x.getFloat(p / c, p % c, y / 2, xx / 2);
                }
            }
        }
        return Tensor.of(out, n, c, 2 * h, 2 * w);
    }

    /** Output (y, x) of plane p reads source (nearestSource(y, H, outH), nearestSource(x, W, outW)). */
    @Override
    public Tensor upsampleNearest(Tensor x, int outH, int outW) {
        Shapes.requireResize("upsampleNearest", "x", x, outH, outW);
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        float[] out = new float[n * c * outH * outW];
        for (int p = 0; p < n * c; p++) {
            for (int y = 0; y < outH; y++) {
                for (int xx = 0; xx < outW; xx++) {
                    out[(p * outH + y) * outW + xx] = x.getFloat(p / c, p % c, Shapes.nearestSource(y, h, outH), Shapes.nearestSource(xx, w, outW));
                }
            }
        }
        return Tensor.of(out, n, c, outH, outW);
    }

    /** dx[p, i, j] = sum of dy[p, y, x] over the outputs (y, x) whose source is (i, j), accumulated in double. */
    @Override
    public Tensor upsampleNearestBackward(Tensor dy, int inH, int inW) {
        Shapes.requireResize("upsampleNearestBackward", "dy", dy, inH, inW);
        int n = dy.dim(0), c = dy.dim(1), outH = dy.dim(2), outW = dy.dim(3);
        double[] acc = new double[n * c * inH * inW];
        for (int p = 0; p < n * c; p++) {
            for (int y = 0; y < outH; y++) {
                for (int xx = 0; xx < outW; xx++) {
                    acc[(p * inH + Shapes.nearestSource(y, inH, outH)) * inW + Shapes.nearestSource(xx, inW, outW)]
                            += dy.getFloat(p / c, p % c, y, xx);
                }
            }
        }
        float[] dx = new float[acc.length];
        for (int i = 0; i < acc.length; i++) {
            dx[i] = (float) acc[i];
        }
        return Tensor.of(dx, n, c, inH, inW);
    }

    @Override
    public Tensor concat(int dim, Tensor... parts) {
        int[] shape = Shapes.concat("concat", dim, parts);
        int d = dim < 0 ? dim + shape.length : dim;
        float[] out = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < out.length; i++) {
            int[] idx = unravel(i, shape);
            int p = 0;
            while (idx[d] >= parts[p].dim(d)) {
                idx[d] -= parts[p].dim(d);
                p++;
            }
            out[i] = parts[p].getFloat(idx);
        }
        return Tensor.of(out, shape);
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift) {
        int half = dim / 2;
        float[] out = new float[timesteps.length * dim];
        for (int t = 0; t < timesteps.length; t++) {
            for (int i = 0; i < half; i++) {
                double arg = timesteps[t] * Math.exp(-Math.log(10000) * i / (half - downscaleFreqShift));
                out[t * dim + (flipSinToCos ? half + i : i)] = (float) Math.sin(arg);
                out[t * dim + (flipSinToCos ? i : half + i)] = (float) Math.cos(arg);
            }
        }
        return Tensor.of(out, timesteps.length, dim);
    }

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        int d = table.dim(1);
        float[] out = new float[ids.length * d];
        for (int i = 0; i < ids.length; i++) {
            for (int j = 0; j < d; j++) {
                out[i * d + j] = table.getFloat(ids[i], j);
            }
        }
        return Tensor.of(out, ids.length, d);
    }

    private static Tensor reduce(Tensor x, int dim, boolean mean) {
        int d = Shapes.axis("reduce", x, dim);
        int[] shape = x.shape();
        int len = shape[d];
        shape[d] = 1;
        float[] xa = x.toFloatArray();
        float[] out = new float[Math.toIntExact(Tensor.numel(shape))];
        int inner = Shapes.prod(shape, d + 1, shape.length);
        for (int i = 0; i < out.length; i++) {
            int o = i / inner, in = i % inner;
            double s = 0;
            for (int l = 0; l < len; l++) {
                s += xa[(o * len + l) * inner + in];
            }
            out[i] = (float) (mean ? s / len : s);
        }
        return Tensor.of(out, shape);
    }

    @Override
    public Tensor sum(Tensor x, int dim) {
        return reduce(x, dim, false);
    }

    @Override
    public Tensor mean(Tensor x, int dim) {
        return reduce(x, dim, true);
    }
}
