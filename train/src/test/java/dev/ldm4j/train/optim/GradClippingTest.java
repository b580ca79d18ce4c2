// clip_grad_norm_: the returned total norm, the scaling of every gradient by one factor when the
// norm exceeds max_norm, nothing changed below it, and NaN propagation.
package dev.ldm4j.train.optim;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GradClippingTest {
    /** Gradients {3, 4} and {12}: norms 5 and 12, total sqrt(25 + 144) = 13. */
    private static TrainableParams thirteen() {
        TrainableParams ps = new TrainableParams();
        ps.add("a", new int[] {2}, new float[2], new float[] {3f, 4f});
        ps.add("b", new int[] {1, 1}, new float[1], new float[] {12f});
        return ps;
    }

    @Test
    void returnsTheTotalNormAndScalesEveryGradientToMaxNorm() {
        TrainableParams ps = thirteen();
        float total = GradClipping.clipGradNorm(ps, 1.0);
        assertEquals(13f, total, 0f);
        double coef = 1.0 / (13 + 1e-6);
        assertEquals(3 * coef, ps.get("a").grad()[0], 1e-7);
        assertEquals(4 * coef, ps.get("a").grad()[1], 1e-7);
        assertEquals(12 * coef, ps.get("b").grad()[0], 1e-7);
        assertEquals(1.0, GradClipping.totalNorm(ps), 1e-6, "clipped to max_norm, less the 1e-6");
    }

    @Test
    void gradientsBelowMaxNormAreLeftAsTheyAre() {
        TrainableParams ps = thirteen();
        assertEquals(13f, GradClipping.clipGradNorm(ps, 20.0), 0f);
        assertArrayEquals(new float[] {3f, 4f}, ps.get("a").grad(), 0f);
        assertArrayEquals(new float[] {12f}, ps.get("b").grad(), 0f);
    }

    @Test
    void matchesTheFormulaOnSeededGradients() {
        java.util.SplittableRandom r = new java.util.SplittableRandom(9);
        TrainableParams ps = new TrainableParams();
        double sum = 0;
        for (int k = 0; k < 4; k++) {
            float[] g = new float[17 + 5 * k];
            for (int i = 0; i < g.length; i++) {
                g[i] = (float) r.nextGaussian();
                sum += (double) g[i] * g[i];
            }
            ps.add("p" + k, new int[] {g.length}, new float[g.length], g);
        }
        float[][] before = ps.list().stream().map(p -> p.grad().clone()).toArray(float[][]::new);
        double expectedTotal = Math.sqrt(sum);
        double maxNorm = 0.5;
        float total = GradClipping.clipGradNorm(ps, maxNorm);
        assertEquals(expectedTotal, total, 1e-6 * expectedTotal);
        double coef = Math.min(1, maxNorm / (expectedTotal + 1e-6));
        int k = 0;
        for (TrainableParams.Param p : ps) {
            for (int i = 0; i < p.numel(); i++) {
                assertEquals(before[k][i] * coef, p.grad()[i], 1e-6 * Math.abs(before[k][i] * coef) + 1e-12, p.name() + "[" + i + "]");
            }
            k++;
        }
    }

    @Test
    void aNaNGradientMakesTheNormNaNAndEveryGradientNaNAsTorchDoes() {
        TrainableParams ps = thirteen();
        ps.get("b").grad()[0] = Float.NaN;
        float total = GradClipping.clipGradNorm(ps, 1.0);
        assertTrue(GradClipping.nonFinite(total));
        assertTrue(Float.isNaN(ps.get("a").grad()[0]));
    }

    @Test
    void negativeMaxNormIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> GradClipping.clipGradNorm(thirteen(), -1));
    }
}
