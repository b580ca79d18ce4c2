// Attention backward: dq, dk, dv of the fast backend and of its scalar twin against float64 central
// finite differences of sum(attention(q, k, v) * r) (relative L2 error <= 1e-4) for heads x head sizes
// 1x40, 2x64, 1x80, 1x160 and small odd ones, self and cross attention, causal or not; and the fast
// backend against the twin (<= 1e-5) on shapes that cross the query and key tiles, split one head's keys
// over several tasks, and reach SD sizes (2 x 256 tokens x 8 heads of 40, cross-attention to 77 tokens).
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.ldm4j.tensor.cpu.GradCheck.assertMatchesFd;
import static dev.ldm4j.tensor.cpu.GradCheck.assertTwin;
import static dev.ldm4j.tensor.cpu.GradCheck.d;
import static dev.ldm4j.tensor.cpu.GradCheck.numeric;
import static dev.ldm4j.tensor.cpu.GradCheck.transposedView;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AttentionBackwardTest {
    final CpuBackend fast = new CpuBackend();
    final CpuReference ref = new CpuReference();
    final GradCheck gc = new GradCheck(20261204);

    /** softmax(q k^T scale) v per (batch, head) in double; q [b, lq, h*dh], k and v [b, lk, h*dh]. */
    static double[] attention(double[] q, double[] k, double[] v, int b, int lq, int lk, int heads, int dh, double scale, boolean causal) {
        int width = heads * dh;
        double[] out = new double[b * lq * width];
        double[] p = new double[lk];
        for (int bi = 0; bi < b; bi++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < lq; i++) {
                    int keys = causal ? Math.min(lk, i + 1) : lk;
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < keys; j++) {
                        double s = 0;
                        for (int e = 0; e < dh; e++) {
                            s += q[(bi * lq + i) * width + h * dh + e] * k[(bi * lk + j) * width + h * dh + e];
                        }
                        p[j] = s * scale;
                        max = Math.max(max, p[j]);
                    }
                    for (int j = 0; j < keys; j++) {
                        p[j] = Math.exp(p[j] - max);
                        sum += p[j];
                    }
                    for (int j = 0; j < keys; j++) {
                        for (int e = 0; e < dh; e++) {
                            out[(bi * lq + i) * width + h * dh + e] += p[j] / sum * v[(bi * lk + j) * width + h * dh + e];
                        }
                    }
                }
            }
        }
        return out;
    }

    @Test
    void gradientsMatchFiniteDifferencesForHeadSizesSelfCrossAndCausal() {
        // {batch, Lq, Lk, heads, head size}
        int[][] cases = {{1, 5, 7, 1, 40}, {1, 9, 9, 1, 40}, {1, 5, 7, 2, 64}, {1, 9, 9, 2, 64}, {1, 5, 7, 1, 80},
                {1, 9, 9, 1, 80}, {1, 5, 7, 1, 160}, {1, 9, 9, 1, 160}, {2, 6, 11, 3, 8}, {1, 7, 5, 2, 24}, {2, 4, 3, 1, 16}};
        for (int[] c : cases) {
            int b = c[0], lq = c[1], lk = c[2], heads = c[3], dh = c[4];
            float scale = (float) (1 / Math.sqrt(dh));
            Tensor q = gc.rand(1.5f, 0f, b, lq, heads * dh), k = gc.rand(1.5f, 0f, b, lk, heads * dh), v = gc.rand(b, lk, heads * dh);
            Tensor dOut = gc.rand(b, lq, heads * dh);
            for (boolean causal : new boolean[] {false, true}) {
                Tensor out = fast.attention(q, k, v, heads, scale, causal);
                double[][] in = {d(q), d(k), d(v)};
                java.util.function.Function<double[][], double[]> f = a -> attention(a[0], a[1], a[2], b, lq, lk, heads, dh, scale, causal);
                double[] r = d(dOut);
                double[] fdq = numeric(in, 0, f, r), fdk = numeric(in, 1, f, r), fdv = numeric(in, 2, f, r);
                for (Backend be : new Backend[] {fast, ref}) {
                    Tensor[] g = be.attentionBackward(q, k, v, out, dOut, heads, scale, causal);
                    String what = be.name() + " attention " + Arrays.toString(c) + (causal ? " causal" : "");
                    assertMatchesFd(g[0], fdq, what + " dq");
                    assertMatchesFd(g[1], fdk, what + " dk");
                    assertMatchesFd(g[2], fdv, what + " dv");
                }
            }
        }
    }

    @Test
    void fastMatchesReferenceAcrossTilesAndKeySplits() {
        // tiles of 64 queries and 4 vectors of keys; one head per batch splits its keys over several tasks
        int[][] cases = {{1, 130, 150, 1, 24}, {1, 70, 131, 1, 80}, {3, 13, 77, 2, 64}, {1, 37, 53, 3, 40},
                {2, 9, 9, 5, 7}, {1, 1, 1, 1, 1}, {1, 200, 77, 1, 160}, {1, 65, 300, 1, 16}};
        for (int[] c : cases) {
            for (boolean causal : new boolean[] {false, true}) {
                twin(c[0], c[1], c[2], c[3], c[4], causal);
            }
        }
    }

    @Test
    void fastMatchesReferenceAtStableDiffusionSizes() {
        twin(2, 256, 256, 8, 40, false);
        twin(2, 256, 256, 8, 40, true);
        twin(2, 256, 77, 8, 40, false);
    }

    @Test
    void acceptsStridedViewsAndIsDeterministic() {
        int b = 2, lq = 19, lk = 29, heads = 3, dh = 8;
        Tensor q = gc.rand(3f, 0f, b, lq, heads * dh), k = gc.rand(3f, 0f, b, lk, heads * dh), v = gc.rand(b, lk, heads * dh);
        Tensor out = fast.attention(q, k, v, heads, 1f, false), dOut = gc.rand(b, lq, heads * dh);
        Tensor[] want = ref.attentionBackward(q, k, v, out, dOut, heads, 1f, false);
        Tensor[] got = fast.attentionBackward(transposedView(q), transposedView(k), transposedView(v), transposedView(out), transposedView(dOut), heads, 1f, false);
        for (int i = 0; i < 3; i++) {
            assertTwin(got[i], want[i], "attention strided " + "qkv".charAt(i));
        }
        Tensor[] again = fast.attentionBackward(q, k, v, out, dOut, heads, 1f, false);
        Tensor[] once = fast.attentionBackward(q, k, v, out, dOut, heads, 1f, false);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(once[i].toFloatArray(), again[i].toFloatArray(), "same bits on a second call");
        }
    }

    @Test
    void badShapesGiveOneLineErrors() {
        Tensor q = gc.rand(1, 4, 8), k = gc.rand(1, 5, 8);
        assertThrows(IllegalArgumentException.class, () -> fast.attentionBackward(q, k, k, q, gc.rand(1, 5, 8), 2, 1f, false));
        assertThrows(IllegalArgumentException.class, () -> fast.attentionBackward(q, k, k, q, q, 3, 1f, false));
        assertThrows(IllegalArgumentException.class, () -> fast.attentionBackward(q, k, gc.rand(1, 4, 8), q, q, 2, 1f, false));
    }

    private void twin(int b, int lq, int lk, int heads, int dh, boolean causal) {
        float scale = (float) (1 / Math.sqrt(dh));
        Tensor q = gc.rand(b, lq, heads * dh), k = gc.rand(b, lk, heads * dh), v = gc.rand(b, lk, heads * dh);
        Tensor out = fast.attention(q, k, v, heads, scale, causal), dOut = gc.rand(b, lq, heads * dh);
        Tensor[] got = fast.attentionBackward(q, k, v, out, dOut, heads, scale, causal);
        Tensor[] want = ref.attentionBackward(q, k, v, out, dOut, heads, scale, causal);
        String what = "attention " + b + "x" + lq + "x" + lk + "x" + heads + "x" + dh + (causal ? " causal" : "");
        assertTwin(got[0], want[0], what + " dq");
        assertTwin(got[1], want[1], what + " dk");
        assertTwin(got[2], want[2], what + " dv");
    }
}
