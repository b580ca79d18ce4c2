// EMAModel.get_decay against its formula for the default, warmup, update_after_step and min_decay
// settings, and step() against shadow - (1 - decay)(shadow - param) evaluated in double.
package dev.ldm4j.train.optim;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EmaModelTest {
    @Test
    void defaultDecayIsZeroAtFirstThenOnePlusKOverTenPlusKCappedAtDecay() {
        EmaModel.Config c = EmaModel.Config.defaults();
        assertEquals(new EmaModel.Config(0.9999, 0.0, 0, false, 1.0, 2.0 / 3.0), c);
        assertEquals(0.0, EmaModel.decayAt(c, 0), 0.0);
        assertEquals(0.0, EmaModel.decayAt(c, 1), 0.0);
        assertEquals(2.0 / 11.0, EmaModel.decayAt(c, 2), 0.0);
        assertEquals(1000.0 / 1009.0, EmaModel.decayAt(c, 1000), 0.0);
        assertEquals(0.9999, EmaModel.decayAt(c, 1_000_000), 0.0); // (1 + k) / (10 + k) passes 0.9999 near k = 89991
    }

    @Test
    void warmupDecayFollowsThePowerLaw() {
        EmaModel.Config c = EmaModel.Config.defaults().withWarmup(1.0, 0.75);
        assertEquals(0.0, EmaModel.decayAt(c, 1), 0.0);
        assertEquals(1 - Math.pow(2, -0.75), EmaModel.decayAt(c, 2), 1e-16);
        assertEquals(1 - Math.pow(100, -0.75), EmaModel.decayAt(c, 100), 1e-16);
        EmaModel.Config slow = EmaModel.Config.defaults().withWarmup(2.0, 2.0 / 3.0);
        assertEquals(1 - Math.pow(1 + 9 / 2.0, -2.0 / 3.0), EmaModel.decayAt(slow, 10), 1e-16);
    }

    @Test
    void updateAfterStepAndMinDecayShiftAndFloorTheDecay() {
        EmaModel.Config c = new EmaModel.Config(0.999, 0.5, 5, false, 1.0, 2.0 / 3.0);
        for (long n = 0; n <= 6; n++) {
            assertEquals(0.0, EmaModel.decayAt(c, n), 0.0, "step " + n + " is at or before update_after_step + 1");
        }
        assertEquals(0.5, EmaModel.decayAt(c, 7), 0.0, "(1 + 1) / (10 + 1) is below min_decay");
        assertEquals(11.0 / 20.0, EmaModel.decayAt(c, 16), 0.0);
        assertEquals(0.999, EmaModel.decayAt(c, 100_000), 0.0);
    }

    @Test
    void stepsMatchTheFormulaInDoubleAndTheFirstCopiesTheParameters() {
        SplittableRandom r = new SplittableRandom(4);
        TrainableParams ps = new TrainableParams();
        float[] w = new float[23];
        float[] b = new float[5];
        ps.add("w", new int[] {23}, w, new float[23]);
        ps.add("b", new int[] {5}, b, new float[5]);
        fill(r, w);
        fill(r, b);
        EmaModel.Config config = EmaModel.Config.defaults().withDecay(0.8); // (1 + k) / (10 + k) reaches 0.8 at k = 35
        EmaModel ema = new EmaModel(ps, config);
        double[][] ref = {toDouble(b), toDouble(w)}; // name order: b, w
        for (int n = 1; n <= 40; n++) {
            fill(r, w); // the optimizer moved the weights
            fill(r, b);
            ema.step();
            double decay = EmaModel.decayAt(config, n);
            assertEquals(decay, ema.currentDecay(), 0.0);
            assertEquals(n, ema.optimizationStep());
            float[][] values = {b, w};
            for (int k = 0; k < 2; k++) {
                for (int i = 0; i < values[k].length; i++) {
                    ref[k][i] -= (1 - decay) * (ref[k][i] - values[k][i]);
                }
                float[] shadow = ema.shadow(k == 0 ? "b" : "w");
                for (int i = 0; i < shadow.length; i++) {
                    assertEquals(ref[k][i], shadow[i], 1e-6 * Math.max(1, Math.abs(ref[k][i])), "step " + n + " element " + i);
                }
            }
            if (n == 1) {
                assertArrayEquals(w, ema.shadow("w"), 1e-6f, "decay 0 at the first step: the shadow becomes the weights (to the rounding of s - (s - p), as in torch)");
            }
        }
        assertEquals(0.8, ema.currentDecay(), 0.0, "capped at decay by step 40");
    }

    @Test
    void copyToWritesTheAverageIntoTheParameters() {
        TrainableParams ps = new TrainableParams();
        float[] w = {1f, 2f};
        ps.add("w", new int[] {2}, w, new float[2]);
        EmaModel ema = new EmaModel(ps, EmaModel.Config.defaults());
        w[0] = 5f;
        w[1] = 6f;
        ema.copyTo(ps);
        assertArrayEquals(new float[] {1f, 2f}, w, 0f);
    }

    @Test
    void invalidConfigIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new EmaModel.Config(1.5, 0, 0, false, 1, 0.75));
        assertThrows(IllegalArgumentException.class, () -> new EmaModel.Config(0.99, 0, -1, false, 1, 0.75));
        assertThrows(IllegalArgumentException.class, () -> new EmaModel.Config(0.99, 0, 0, true, 0, 0.75));
    }

    private static void fill(SplittableRandom r, float[] a) {
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextDouble(-2, 2);
        }
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }
}
