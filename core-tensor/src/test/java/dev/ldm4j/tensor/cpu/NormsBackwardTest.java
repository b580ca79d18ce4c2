// Group norm (with and without SiLU), layer norm and softmax backward: the analytic gradients of the
// fast backend and of its scalar twin against float64 central finite differences of sum(f(x) * r)
// (relative L2 error <= 1e-4), and the fast backend against the twin on larger, strided and
// half-precision inputs (<= 1e-5).
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.DType;
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

class NormsBackwardTest {
    final CpuBackend fast = new CpuBackend();
    final CpuReference ref = new CpuReference();
    final GradCheck gc = new GradCheck(20261202);

    // ---- forwards in double ----

    /** groupNorm over x [n, c, spatial] in double, then SiLU when silu. */
    static double[] groupNorm(double[] x, int n, int c, int spatial, int groups, double[] gamma, double[] beta, double eps, boolean silu) {
        int cg = c / groups, len = cg * spatial;
        double[] y = new double[x.length];
        for (int t = 0; t < n * groups; t++) {
            int at = t * len;
            double mean = 0, var = 0;
            for (int i = 0; i < len; i++) {
                mean += x[at + i];
            }
            mean /= len;
            for (int i = 0; i < len; i++) {
                var += (x[at + i] - mean) * (x[at + i] - mean);
            }
            var /= len;
            for (int i = 0; i < len; i++) {
                int ch = (t % groups) * cg + i / spatial;
                double v = (x[at + i] - mean) / Math.sqrt(var + eps) * gamma[ch] + beta[ch];
                y[at + i] = silu ? v / (1 + Math.exp(-v)) : v;
            }
        }
        return y;
    }

    static double[] layerNorm(double[] x, int d, double[] gamma, double[] beta, double eps) {
        return groupNormRows(x, d, gamma, beta, eps);
    }

    private static double[] groupNormRows(double[] x, int d, double[] gamma, double[] beta, double eps) {
        double[] y = new double[x.length];
        for (int r = 0; r < x.length / d; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) {
                mean += x[r * d + i];
            }
            mean /= d;
            for (int i = 0; i < d; i++) {
                var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
            }
            var /= d;
            for (int i = 0; i < d; i++) {
                y[r * d + i] = (x[r * d + i] - mean) / Math.sqrt(var + eps) * gamma[i] + beta[i];
            }
        }
        return y;
    }

    static double[] softmax(double[] x, int d) {
        double[] y = new double[x.length];
        for (int r = 0; r < x.length / d; r++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < d; i++) {
                max = Math.max(max, x[r * d + i]);
            }
            for (int i = 0; i < d; i++) {
                y[r * d + i] = Math.exp(x[r * d + i] - max);
                sum += y[r * d + i];
            }
            for (int i = 0; i < d; i++) {
                y[r * d + i] /= sum;
            }
        }
        return y;
    }

    // ---- finite differences ----

    @Test
    void groupNormGradientsMatchFiniteDifferencesWithAndWithoutSilu() {
        int n = 2, c = 6, h = 5, w = 7, groups = 3;
        Tensor x = gc.rand(1.5f, 0.7f, n, c, h, w);
        Tensor gamma = gc.rand(c), beta = gc.rand(c);
        Tensor dy = gc.rand(n, c, h, w);
        float eps = 1e-5f;
        for (boolean silu : new boolean[] {false, true}) {
            double[][] in = {d(x), d(gamma), d(beta)};
            java.util.function.Function<double[][], double[]> f = a -> groupNorm(a[0], n, c, h * w, groups, a[1], a[2], eps, silu);
            double[] r = d(dy);
            double[] fdx = numeric(in, 0, f, r), fdg = numeric(in, 1, f, r), fdb = numeric(in, 2, f, r);
            for (Backend be : new Backend[] {fast, ref}) {
                Tensor[] g = be.groupNormBackward(x, groups, gamma, beta, eps, silu, dy);
                String what = be.name() + " groupNorm silu=" + silu;
                assertMatchesFd(g[0], fdx, what + " dx");
                assertMatchesFd(g[1], fdg, what + " dgamma");
                assertMatchesFd(g[2], fdb, what + " dbeta");
            }
        }
    }

    @Test
    void layerNormGradientsMatchFiniteDifferencesOverOddWidths() {
        for (int d : new int[] {1, 7, 13, 37, 77}) {
            Tensor x = gc.rand(2f, -0.5f, 3, 2, d);
            Tensor gamma = gc.rand(d), beta = gc.rand(d);
            Tensor dy = gc.rand(3, 2, d);
            float eps = 1e-5f;
            double[][] in = {d(x), d(gamma), d(beta)};
            java.util.function.Function<double[][], double[]> f = a -> layerNorm(a[0], d, a[1], a[2], eps);
            double[] r = d(dy);
            double[] fdx = numeric(in, 0, f, r), fdg = numeric(in, 1, f, r), fdb = numeric(in, 2, f, r);
            for (Backend be : new Backend[] {fast, ref}) {
                Tensor[] g = be.layerNormBackward(x, gamma, eps, dy);
                String what = be.name() + " layerNorm width " + d;
                assertMatchesFd(g[0], fdx, what + " dx");
                assertMatchesFd(g[1], fdg, what + " dgamma");
                assertMatchesFd(g[2], fdb, what + " dbeta");
            }
        }
    }

    @Test
    void softmaxGradientMatchesFiniteDifferences() {
        for (int[] shape : new int[][] {{4, 9}, {2, 3, 77}, {5, 1}, {1, 33}}) {
            int d = shape[shape.length - 1];
            Tensor x = gc.rand(3f, 0f, shape);
            Tensor y = fast.softmax(x);
            Tensor dy = gc.rand(shape);
            double[] fd = numeric(new double[][] {d(x)}, 0, a -> softmax(a[0], d), d(dy));
            for (Backend be : new Backend[] {fast, ref}) {
                assertMatchesFd(be.softmaxBackward(y, dy), fd, be.name() + " softmax " + Arrays.toString(shape));
            }
        }
    }

    // ---- fast against the scalar twin ----

    @Test
    void groupNormBackwardMatchesReferenceForLargeStridedAndHalfInputs() {
        for (boolean silu : new boolean[] {false, true}) {
            Tensor x = gc.rand(2f, 3f, 2, 64, 13, 17), dy = gc.rand(2, 64, 13, 17);
            Tensor gamma = gc.rand(64), beta = gc.rand(64);
            twin3(fast.groupNormBackward(x, 32, gamma, beta, 1e-5f, silu, dy),
                    ref.groupNormBackward(x, 32, gamma, beta, 1e-5f, silu, dy), "groupNorm 32 groups silu=" + silu);
            Tensor gh = CpuBackendTest.half(gamma, DType.F16), bh = CpuBackendTest.half(beta, DType.BF16);
            twin3(fast.groupNormBackward(x, 8, gh, bh, 1e-6f, silu, dy),
                    ref.groupNormBackward(x, 8, gh, bh, 1e-6f, silu, dy), "groupNorm F16 gamma, BF16 beta silu=" + silu);
            Tensor xt = transposedView(x), dyt = transposedView(dy);
            twin3(fast.groupNormBackward(xt, 4, gamma, beta, 1e-5f, silu, dyt),
                    ref.groupNormBackward(xt, 4, gamma, beta, 1e-5f, silu, dyt), "groupNorm strided silu=" + silu);
            Tensor xm = gc.rand(1f, 1000f, 3, 8, 9, 7), dym = gc.rand(3, 8, 9, 7);
            Tensor gm = gc.rand(8), bm = gc.rand(8);
            twin3(fast.groupNormBackward(xm, 2, gm, bm, 1e-5f, silu, dym),
                    ref.groupNormBackward(xm, 2, gm, bm, 1e-5f, silu, dym), "groupNorm mean 1000 silu=" + silu);
            Tensor x2 = gc.rand(5, 12), dy2 = gc.rand(5, 12);
            twin3(fast.groupNormBackward(x2, 3, null, null, 1e-5f, silu, dy2),
                    ref.groupNormBackward(x2, 3, null, null, 1e-5f, silu, dy2), "groupNorm [N, C] without gamma, beta silu=" + silu);
        }
        Tensor big = gc.rand(2, 320, 16, 16), dyb = gc.rand(2, 320, 16, 16), gb = gc.rand(320), bb = gc.rand(320);
        twin3(fast.groupNormBackward(big, 32, gb, bb, 1e-5f, true, dyb), ref.groupNormBackward(big, 32, gb, bb, 1e-5f, true, dyb), "groupNorm 2x320x16x16");
    }

    @Test
    void layerNormBackwardMatchesReferenceForWideRowsStridesAndHalfGamma() {
        for (int d : new int[] {1, 5, 53, 320, 1283}) {
            Tensor x = gc.rand(2f, 5f, 4, 67, d), dy = gc.rand(4, 67, d), gamma = gc.rand(d);
            twin3(fast.layerNormBackward(x, gamma, 1e-5f, dy), ref.layerNormBackward(x, gamma, 1e-5f, dy), "layerNorm width " + d);
        }
        Tensor x = gc.rand(1f, -500f, 3, 300), dy = gc.rand(3, 300), g = gc.rand(300);
        twin3(fast.layerNormBackward(x, g, 1e-5f, dy), ref.layerNormBackward(x, g, 1e-5f, dy), "layerNorm mean -500");
        Tensor xs = gc.rand(3, 7, 53), dys = gc.rand(3, 7, 53), gs = CpuBackendTest.half(gc.rand(53), DType.BF16);
        twin3(fast.layerNormBackward(transposedView(xs), gs, 1e-5f, transposedView(dys)),
                ref.layerNormBackward(transposedView(xs), gs, 1e-5f, transposedView(dys)), "layerNorm strided, BF16 gamma");
        twin3(fast.layerNormBackward(xs, null, 1e-5f, dys), ref.layerNormBackward(xs, null, 1e-5f, dys), "layerNorm without gamma");
    }

    @Test
    void softmaxBackwardMatchesReference() {
        for (int[] shape : new int[][] {{5, 77}, {3, 4, 4096}, {2, 3, 1}, {7, 300}}) {
            Tensor y = fast.softmax(gc.rand(6f, 0f, shape)), dy = gc.rand(shape);
            assertTwin(fast.softmaxBackward(y, dy), ref.softmaxBackward(y, dy), "softmax " + Arrays.toString(shape));
        }
        Tensor y = fast.softmax(gc.rand(5, 77)), dy = gc.rand(5, 77);
        assertTwin(fast.softmaxBackward(y, transposedView(dy)), ref.softmaxBackward(y, transposedView(dy)), "softmax strided dy");
    }

    @Test
    void badShapesGiveOneLineErrors() {
        Tensor x = gc.rand(2, 6, 3), g = gc.rand(6);
        assertThrows(IllegalArgumentException.class, () -> fast.groupNormBackward(x, 4, g, g, 1e-5f, false, x));
        assertThrows(IllegalArgumentException.class, () -> fast.groupNormBackward(x, 3, g, g, 1e-5f, false, gc.rand(2, 6, 4)));
        assertThrows(IllegalArgumentException.class, () -> fast.layerNormBackward(x, gc.rand(4), 1e-5f, x));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> fast.softmaxBackward(x, gc.rand(6, 3)));
        assertArrayEquals(new String[] {e.getMessage()}, e.getMessage().split("\n"), "one line");
    }

    private static void twin3(Tensor[] got, Tensor[] want, String what) {
        assertTwin(got[0], want[0], what + " dx");
        assertTwin(got[1], want[1], what + " dgamma");
        assertTwin(got[2], want[2], what + " dbeta");
    }
}
