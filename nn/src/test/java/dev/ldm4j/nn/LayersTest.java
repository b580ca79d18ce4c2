// The nn layers against plain scalar formulas written out here, on seeded random weights and inputs
// (odd sizes): multi-head cross attention in the token-major layout, its head-averaged probabilities (DAAM's input), the VAE's spatial self attention
// (group norm, single head, residual), GEGLU's split order in FeedForward, the VAE Downsample2D's
// (0, 1, 0, 1) padding, and Upsample2D to a given (odd) size. Tolerance: 1e-4 absolute on values of
// order 1 (fp32 accumulation order).
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class LayersTest {
    private static final double TOL = 1e-4;
    private static Backend backend;

    @BeforeAll
    static void open() {
        backend = Backends.create("cpu");
    }

    @AfterAll
    static void close() {
        backend.close();
    }

    /** x [L, in] W^T + b, W [out, in]. */
    private static double[][] linear(double[][] x, float[] w, float[] b, int in, int out) {
        double[][] y = new double[x.length][out];
        for (int i = 0; i < x.length; i++) {
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int k = 0; k < in; k++) {
                    s += x[i][k] * w[o * in + k];
                }
                y[i][o] = s;
            }
        }
        return y;
    }

    /** Per head h: softmax(q_h k_h^T / sqrt(d)) v_h, heads in column blocks. */
    private static double[][] attention(double[][] q, double[][] k, double[][] v, int heads, int d) {
        double[][] out = new double[q.length][heads * d];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < q.length; i++) {
                double[] s = new double[k.length];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < k.length; j++) {
                    for (int c = 0; c < d; c++) {
                        s[j] += q[i][h * d + c] * k[j][h * d + c];
                    }
                    s[j] /= Math.sqrt(d);
                    max = Math.max(max, s[j]);
                }
                double z = 0;
                for (int j = 0; j < k.length; j++) {
                    s[j] = Math.exp(s[j] - max);
                    z += s[j];
                }
                for (int j = 0; j < k.length; j++) {
                    for (int c = 0; c < d; c++) {
                        out[i][h * d + c] += s[j] / z * v[j][h * d + c];
                    }
                }
            }
        }
        return out;
    }

    private static double[][] rows(Tensor t, int batch) {
        int l = t.dim(1), c = t.dim(2);
        double[][] r = new double[l][c];
        for (int i = 0; i < l; i++) {
            for (int j = 0; j < c; j++) {
                r[i][j] = t.getFloat(batch, i, j);
            }
        }
        return r;
    }

    private static void assertRows(double[][] expected, Tensor actual, int batch) {
        Tensor host = backend.toHost(actual);
        for (int i = 0; i < expected.length; i++) {
            for (int j = 0; j < expected[i].length; j++) {
                assertEquals(expected[i][j], host.getFloat(batch, i, j), TOL, "row " + i + " col " + j);
            }
        }
    }

    @Test
    void crossAttentionMatchesScalarMultiHeadFormula() {
        int dim = 6, ctxDim = 5, heads = 2, d = 3, lq = 7, lk = 4;
        MapSource src = new MapSource(1);
        float[] wq = src.random("attn2.to_q.weight", 0.5f, heads * d, dim);
        float[] wk = src.random("attn2.to_k.weight", 0.5f, heads * d, ctxDim);
        float[] wv = src.random("attn2.to_v.weight", 0.5f, heads * d, ctxDim);
        float[] wo = src.random("attn2.to_out.0.weight", 0.5f, dim, heads * d);
        float[] bo = src.random("attn2.to_out.0.bias", 0.5f, dim);
        Attention attn = Attention.transformer(Params.root(src, backend).child("attn2"), dim, ctxDim, heads, d);
        Random r = new Random(2);
        Tensor x = MapSource.randomTensor(r, 1f, 2, lq, dim);
        Tensor ctx = MapSource.randomTensor(r, 1f, 2, lk, ctxDim);
        Tensor out = attn.forward(x, ctx);
        assertArrayEquals(new int[] {2, lq, dim}, out.shape());
        for (int b = 0; b < 2; b++) {
            double[][] xs = rows(x, b), cs = rows(ctx, b);
            double[][] a = attention(linear(xs, wq, null, dim, 6), linear(cs, wk, null, ctxDim, 6), linear(cs, wv, null, ctxDim, 6), heads, d);
            assertRows(linear(a, wo, bo, heads * d, dim), out, b);
        }
    }

    @Test
    void headAveragedProbabilitiesAreTheMeanOfEachHeadsSoftmax() {
        int dim = 6, ctxDim = 5, heads = 3, d = 2, lq = 7, lk = 4, batch = 3;
        MapSource src = new MapSource(4);
        float[] wq = src.random("attn2.to_q.weight", 0.5f, heads * d, dim);
        float[] wk = src.random("attn2.to_k.weight", 0.5f, heads * d, ctxDim);
        src.random("attn2.to_v.weight", 0.5f, heads * d, ctxDim);
        src.random("attn2.to_out.0.weight", 0.5f, dim, heads * d);
        src.random("attn2.to_out.0.bias", 0.5f, dim);
        Attention attn = Attention.transformer(Params.root(src, backend).child("attn2"), dim, ctxDim, heads, d);
        Random r = new Random(5);
        Tensor x = MapSource.randomTensor(r, 1f, batch, lq, dim);
        Tensor ctx = MapSource.randomTensor(r, 1f, batch, lk, ctxDim);
        Tensor p = backend.toHost(attn.headAveragedProbabilities(x, ctx, 1, 2));       // rows 1 and 2 of 3
        assertArrayEquals(new int[] {2, lq, lk}, p.shape());
        for (int row = 0; row < 2; row++) {
            double[][] q = linear(rows(x, row + 1), wq, null, dim, heads * d);
            double[][] k = linear(rows(ctx, row + 1), wk, null, ctxDim, heads * d);
            for (int i = 0; i < lq; i++) {
                double[] want = new double[lk];
                for (int h = 0; h < heads; h++) {
                    double[] s = new double[lk];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < lk; j++) {
                        for (int c = 0; c < d; c++) {
                            s[j] += q[i][h * d + c] * k[j][h * d + c] / Math.sqrt(d);
                        }
                        max = Math.max(max, s[j]);
                    }
                    for (int j = 0; j < lk; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int j = 0; j < lk; j++) {
                        want[j] += s[j] / sum / heads;
                    }
                }
                for (int j = 0; j < lk; j++) {
                    assertEquals(want[j], p.getFloat(row, i, j), 1e-5, "row " + row + ", query " + i + ", key " + j);
                }
            }
        }
    }

    @Test
    void spatialSelfAttentionNormalizesAttendsOverPositionsAndAddsResidual() {
        int c = 4, h = 3, w = 5, groups = 2;
        float eps = 1e-6f;
        MapSource src = new MapSource(3);
        float[] gamma = src.random("group_norm.weight", 1f, c);
        float[] beta = src.random("group_norm.bias", 1f, c);
        float[][] wts = new float[4][], bias = new float[4][];
        String[] names = {"to_q", "to_k", "to_v", "to_out.0"};
        for (int i = 0; i < 4; i++) {
            wts[i] = src.random(names[i] + ".weight", 0.5f, c, c);
            bias[i] = src.random(names[i] + ".bias", 0.5f, c);
        }
        Attention attn = Attention.spatialSelf(Params.root(src, backend), c, groups, eps);
        Tensor x = MapSource.randomTensor(new Random(4), 1f, 1, c, h, w);
        Tensor out = backend.toHost(attn.forwardSpatial(x));
        assertArrayEquals(new int[] {1, c, h, w}, out.shape());

        double[][] tokens = new double[h * w][c];
        int per = c / groups;
        for (int g = 0; g < groups; g++) {
            double mean = 0, var = 0;
            for (int ch = g * per; ch < (g + 1) * per; ch++) {
                for (int p = 0; p < h * w; p++) {
                    mean += x.getFloat(0, ch, p / w, p % w);
                }
            }
            mean /= per * h * w;
            for (int ch = g * per; ch < (g + 1) * per; ch++) {
                for (int p = 0; p < h * w; p++) {
                    double dv = x.getFloat(0, ch, p / w, p % w) - mean;
                    var += dv * dv;
                }
            }
            var /= per * h * w;
            for (int ch = g * per; ch < (g + 1) * per; ch++) {
                for (int p = 0; p < h * w; p++) {
                    tokens[p][ch] = (x.getFloat(0, ch, p / w, p % w) - mean) / Math.sqrt(var + eps) * gamma[ch] + beta[ch];
                }
            }
        }
        double[][] a = attention(linear(tokens, wts[0], bias[0], c, c), linear(tokens, wts[1], bias[1], c, c),
                linear(tokens, wts[2], bias[2], c, c), 1, c);
        double[][] y = linear(a, wts[3], bias[3], c, c);
        for (int p = 0; p < h * w; p++) {
            for (int ch = 0; ch < c; ch++) {
                assertEquals(y[p][ch] + x.getFloat(0, ch, p / w, p % w), out.getFloat(0, ch, p / w, p % w), TOL, "channel " + ch + " position " + p);
            }
        }
    }

    @Test
    void feedForwardGatesFirstHalfWithGeluOfSecondHalf() {
        int dim = 3, inner = 12;
        MapSource src = new MapSource(5);
        float[] w0 = src.random("ff.net.0.proj.weight", 0.5f, 2 * inner, dim);
        float[] b0 = src.random("ff.net.0.proj.bias", 0.5f, 2 * inner);
        float[] w2 = src.random("ff.net.2.weight", 0.5f, dim, inner);
        float[] b2 = src.random("ff.net.2.bias", 0.5f, dim);
        FeedForward ff = new FeedForward(Params.root(src, backend).child("ff"), dim);
        Tensor x = MapSource.randomTensor(new Random(6), 2f, 1, 5, dim);
        double[][] proj = linear(rows(x, 0), w0, b0, dim, 2 * inner);
        double[][] gated = new double[proj.length][inner];
        for (int i = 0; i < proj.length; i++) {
            for (int j = 0; j < inner; j++) {
                double g = proj[i][inner + j];
                gated[i][j] = proj[i][j] * 0.5 * g * (1 + erf(g / Math.sqrt(2)));
            }
        }
        assertRows(linear(gated, w2, b2, inner, dim), ff.forward(x), 0);
    }

    @Test
    void vaeDownsamplePadsBottomAndRightOnly() {
        int c = 2, h = 6, w = 4;
        MapSource src = new MapSource(7);
        float[] wt = src.random("conv.weight", 0.5f, c, c, 3, 3);
        float[] b = src.random("conv.bias", 0.5f, c);
        Downsample2D down = new Downsample2D(Params.root(src, backend), c, 0);
        Tensor x = MapSource.randomTensor(new Random(8), 1f, 1, c, h, w);
        Tensor out = backend.toHost(down.forward(x));
        assertArrayEquals(new int[] {1, c, h / 2, w / 2}, out.shape());
        for (int o = 0; o < c; o++) {
            for (int i = 0; i < h / 2; i++) {
                for (int j = 0; j < w / 2; j++) {
                    double s = b[o];
                    for (int ci = 0; ci < c; ci++) {
                        for (int ky = 0; ky < 3; ky++) {
                            for (int kx = 0; kx < 3; kx++) {
                                int y = 2 * i + ky, xx = 2 * j + kx;  // no padding above/left
                                if (y < h && xx < w) {
                                    s += wt[((o * c + ci) * 3 + ky) * 3 + kx] * x.getFloat(0, ci, y, xx);
                                }
                            }
                        }
                    }
                    assertEquals(s, out.getFloat(0, o, i, j), TOL, "out[" + o + "," + i + "," + j + "]");
                }
            }
        }
    }

    /** Upsample2D given a size (the U-Net at odd latent sides): nearest from floor(i * H / outH), then the 3x3 conv, padding 1. */
    @Test
    void upsampleToAGivenSizeIsNearestThenTheConv() {
        int c = 2, h = 5, w = 7, oh = 9, ow = 13;
        MapSource src = new MapSource(9);
        float[] wt = src.random("conv.weight", 0.5f, c, c, 3, 3);
        float[] b = src.random("conv.bias", 0.5f, c);
        Upsample2D up = new Upsample2D(Params.root(src, backend), c);
        Tensor x = MapSource.randomTensor(new Random(10), 1f, 1, c, h, w);
        Tensor out = backend.toHost(up.forward(x, oh, ow));
        assertArrayEquals(new int[] {1, c, oh, ow}, out.shape());
        for (int o = 0; o < c; o++) {
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    double s = b[o];
                    for (int ci = 0; ci < c; ci++) {
                        for (int ky = 0; ky < 3; ky++) {
                            for (int kx = 0; kx < 3; kx++) {
                                int y = i + ky - 1, xx = j + kx - 1;
                                if (y >= 0 && y < oh && xx >= 0 && xx < ow) {
                                    s += wt[((o * c + ci) * 3 + ky) * 3 + kx] * x.getFloat(0, ci, y * h / oh, xx * w / ow);
                                }
                            }
                        }
                    }
                    assertEquals(s, out.getFloat(0, o, i, j), TOL, "out[" + o + "," + i + "," + j + "]");
                }
            }
        }
        assertArrayEquals(backend.toHost(up.forward(x)).toFloatArray(), backend.toHost(up.forward(x, 2 * h, 2 * w)).toFloatArray(),
                "the default is exact doubling");
    }

    /** erf by its Maclaurin series, accurate to ~1e-9 in double for the |x| < 4 used here. */
    private static double erf(double x) {
        double t = Math.abs(x);
        double sum = 0, term = t;
        for (int n = 0; n < 200; n++) {
            sum += term / (2 * n + 1);
            term *= -t * t / (n + 1);
        }
        return Math.signum(x) * 2 / Math.sqrt(Math.PI) * sum;
    }
}
