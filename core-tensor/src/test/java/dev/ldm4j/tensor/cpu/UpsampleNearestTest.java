// Nearest resize to a given size (the U-Net's upsamplers at odd latent sizes) and its gradient: CpuBackend
// against the scalar CpuReference on odd sizes (5x7 -> 9x13, 3x4 -> 5x7, 2x2 -> 3x4, exact 2x, same size,
// shrinking), strided and F16 inputs; both against the float64 formula floor(i * in / out); the gradient
// against float64 central differences of sum(upsample(x) * r) for random r. Tolerances: the forward copies
// values, so it must be exact; the gradient within 1e-6 relative (float sums of at most a few terms).
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UpsampleNearestTest {
    /** {N, C, H, W, outH, outW}: the U-Net's odd levels (9x13 latent), exact 2x, same size, shrinking, mixed. */
    static final int[][] CASES = {
        {2, 3, 5, 7, 9, 13},
        {1, 2, 3, 4, 5, 7},
        {3, 1, 2, 2, 3, 4},
        {2, 3, 5, 7, 10, 14},
        {1, 2, 5, 7, 5, 7},
        {1, 2, 7, 5, 3, 2},
        {2, 1, 4, 3, 11, 6},
    };

    final CpuBackend fast = new CpuBackend();
    final CpuReference ref = new CpuReference();
    final Random rng = new Random(20261203);

    Tensor rand(int... shape) {
        float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rng.nextGaussian();
        }
        return Tensor.of(a, shape);
    }

    /** x [N, C, H, W] resized by the float64 formula: out[y, x] = in[floor(y * H / outH), floor(x * W / outW)]. */
    static double[] resize64(double[] x, int n, int c, int h, int w, int outH, int outW) {
        double[] out = new double[n * c * outH * outW];
        for (int p = 0; p < n * c; p++) {
            for (int y = 0; y < outH; y++) {
                int sy = (int) Math.floor((double) y * h / outH);
                for (int xx = 0; xx < outW; xx++) {
                    int sx = (int) Math.floor((double) xx * w / outW);
                    out[(p * outH + y) * outW + xx] = x[(p * h + sy) * w + sx];
                }
            }
        }
        return out;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    @Test
    void resizeMatchesTheReferenceAndTheFloat64Formula() {
        for (int[] k : CASES) {
            String what = k[2] + "x" + k[3] + " -> " + k[4] + "x" + k[5];
            Tensor x = rand(k[0], k[1], k[2], k[3]);
            float[] want = ref.upsampleNearest(x, k[4], k[5]).toFloatArray();
            Tensor got = fast.upsampleNearest(x, k[4], k[5]);
            assertArrayEquals(new int[] {k[0], k[1], k[4], k[5]}, got.shape(), what);
            assertArrayEquals(want, got.toFloatArray(), what);
            assertArrayEquals(toDouble(want), resize64(toDouble(x.toFloatArray()), k[0], k[1], k[2], k[3], k[4], k[5]), 0.0, what + " (float64)");
            assertArrayEquals(want, fast.upsampleNearest(CpuBackendTest.transposedView(x), k[4], k[5]).toFloatArray(), what + " strided");
            Tensor half = CpuBackendTest.half(x, DType.F16);
            assertArrayEquals(ref.upsampleNearest(half, k[4], k[5]).toFloatArray(), fast.upsampleNearest(half, k[4], k[5]).toFloatArray(), what + " F16");
        }
    }

    @Test
    void exactDoublingIsUpsampleNearest2x() {
        Tensor x = rand(2, 3, 5, 7);
        assertArrayEquals(fast.upsampleNearest2x(x).toFloatArray(), fast.upsampleNearest(x, 10, 14).toFloatArray());
        assertArrayEquals(ref.upsampleNearest2x(x).toFloatArray(), ref.upsampleNearest(x, 10, 14).toFloatArray());
    }

    /**
     * PyTorch rounds the scale and the product to float (UpSample.h, nearest_neighbor_compute_source_index), so
     * where floor(i * in / out) is an exact integer the float product can land just below it: 2 -> 82 rows,
     * row 41 reads row 0 (41 * 2 / 82 = 1 exactly, but 41 * float(2/82) = 0.99999994).
     */
    @Test
    void followsPyTorchsFloatIndexRuleWhereItDiffersFromExactDivision() {
        assertEquals(0, Shapes.nearestSource(41, 2, 82));
        assertEquals(1, Shapes.nearestSource(42, 2, 82));
        Tensor x = Tensor.of(new float[] {10f, 20f}, 1, 1, 2, 1);
        assertEquals(10f, fast.upsampleNearest(x, 82, 1).getFloat(0, 0, 41, 0));
        assertEquals(10f, ref.upsampleNearest(x, 82, 1).getFloat(0, 0, 41, 0));
    }

    @Test
    void backwardMatchesTheReferenceAndFloat64CentralDifferences() {
        for (int[] k : CASES) {
            String what = k[2] + "x" + k[3] + " -> " + k[4] + "x" + k[5];
            int n = k[0], c = k[1], h = k[2], w = k[3], outH = k[4], outW = k[5];
            Tensor r = rand(n, c, outH, outW);
            Tensor got = fast.upsampleNearestBackward(r, h, w);
            assertArrayEquals(new int[] {n, c, h, w}, got.shape(), what);
            Tensor want = ref.upsampleNearestBackward(r, h, w);
            assertTrue(relative(got.toFloatArray(), toDouble(want.toFloatArray())) <= 1e-6, what + " fast vs reference");
            assertArrayEquals(want.toFloatArray(), fast.upsampleNearestBackward(CpuBackendTest.transposedView(r), h, w).toFloatArray(),
                    1e-5f, what + " strided");

            // d/dx_i of f(x) = sum(upsample(x) * r), by central differences in float64.
            double[] x = toDouble(rand(n, c, h, w).toFloatArray());
            double[] rd = toDouble(r.toFloatArray());
            double step = 1e-3;
            double[] fd = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                double keep = x[i];
                x[i] = keep + step;
                double plus = dot(resize64(x, n, c, h, w, outH, outW), rd);
                x[i] = keep - step;
                double minus = dot(resize64(x, n, c, h, w, outH, outW), rd);
                x[i] = keep;
                fd[i] = (plus - minus) / (2 * step);
            }
            double err = relative(got.toFloatArray(), fd);
            assertTrue(err <= 1e-6, what + ": gradient relative error " + err + " against central differences");
            assertTrue(relative(want.toFloatArray(), fd) <= 1e-6, what + ": reference gradient against central differences");
        }
    }

    @Test
    void badSizesAreOneLineErrorsNamingTheOp() {
        Tensor x = rand(1, 1, 3, 3);
        var e = assertThrows(IllegalArgumentException.class, () -> fast.upsampleNearest(x, 0, 4));
        assertTrue(e.getMessage().startsWith("upsampleNearest: ") && e.getMessage().contains("0x4"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> fast.upsampleNearest(rand(3, 3), 4, 4));
        assertTrue(e.getMessage().contains("rank 4"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> fast.upsampleNearestBackward(x, 2, -1));
        assertTrue(e.getMessage().startsWith("upsampleNearestBackward: "), e.getMessage());
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static double relative(float[] got, double[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            double d = got[i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }
}
