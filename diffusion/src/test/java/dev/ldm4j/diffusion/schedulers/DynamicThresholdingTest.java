// Dynamic thresholding (Imagen; diffusers' _threshold_sample): the quantile, the clamp of s to [1, sample_max_value],
// per-image thresholds, and each scheduler that takes thresholding = true applying it to x0 where diffusers does.
package dev.ldm4j.diffusion.schedulers;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DynamicThresholdingTest {
    private static final int[] SHAPE = {2, 4, 4, 4};     // two images, so each must get its own threshold
    private static final int N = 128;

    @Test
    void quantileInterpolatesLinearlyAsTorchQuantile() {
        double[] v = new double[100];
        for (int i = 0; i < 100; i++) {
            v[i] = (100 - i) / 10.0;                       // 10.0, 9.9, ..., 0.1, unsorted on purpose
        }
        // torch.quantile(q = 0.995) of 0.1..10.0: position 0.995 * 99 = 98.505 between 9.9 and 10.0.
        assertEquals(9.9505, DynamicThresholding.quantile(v, 0.995), 1e-12);
        assertEquals(10.0, DynamicThresholding.quantile(v, 1.0), 0);
    }

    @Test
    void eachImageIsClampedToItsOwnThresholdAndDivided() {
        double[] x0 = new double[200];
        for (int i = 0; i < 100; i++) {
            x0[i] = (i % 2 == 0 ? 1 : -1) * (i + 1) / 10.0;  // image 0: |x| 0.1..10.0, quantile 9.9505, under max 20
            x0[100 + i] = (i + 1) / 200.0;                    // image 1: |x| <= 0.5, quantile < 1: s = 1, nothing changes
        }
        double[] want = x0.clone();
        double s = 9.9505;
        for (int i = 0; i < 100; i++) {
            want[i] = Math.max(-s, Math.min(s, x0[i])) / s;
        }
        new DynamicThresholding(0.995, 20).apply(x0, 2);
        assertArrayEquals(want, x0, 1e-12);
        double[] capped = {5, -4, 3, 0.5};
        new DynamicThresholding(1.0, 2).apply(capped, 1);     // quantile 5 clamped to sample_max_value 2
        assertArrayEquals(new double[] {1, -1, 1, 0.25}, capped, 1e-15);
    }

    @Test
    void badSettingsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new DynamicThresholding(0, 1));
        assertThrows(IllegalArgumentException.class, () -> new DynamicThresholding(1.5, 1));
        assertThrows(IllegalArgumentException.class, () -> new DynamicThresholding(0.9, 0.5));
        var e = assertThrows(IllegalArgumentException.class, () -> create("ddim", thresholding(0.9, 0.5)));
        assertTrue(e.getMessage().startsWith("DDIMScheduler: sample_max_value"), e.getMessage());
    }

    /** diffusers: "When clamped to min=1, equivalent to standard clipping to [-1, 1]". */
    @Test
    void withSampleMaxValueOneItIsClippingInDdimAndDdpm() {
        for (String name : new String[] {"ddim", "ddpm"}) {
            Map<String, Object> clip = Map.of("clip_sample", true, "clip_sample_range", 1.0);
            float[] clipped = run(create(name, clip), 6);
            float[] thresholded = run(create(name, thresholding(0.9, 1.0)), 6);
            float[] plain = run(create(name, Map.of("clip_sample", false)), 6);
            assertArrayEquals(clipped, thresholded, 0f, name);
            assertFalse(java.util.Arrays.equals(plain, clipped), name + ": the test's samples are large enough to be clipped");
        }
    }

    /**
     * The DPM-Solver family thresholds the x0 implied by an epsilon prediction. The same first step, given that
     * thresholded x0 computed here in float64 (x0 = x sqrt(sigma^2 + 1) - sigma eps, then per image the 0.9-quantile
     * of |x0| clamped to [1, 3]) as a sample prediction without thresholding, must agree.
     */
    @Test
    void dpmSolverFamilyThresholdsTheImpliedX0() {
        for (String name : new String[] {"dpmpp_2m", "dpmpp_2s", "unipc", "deis"}) {
            Scheduler eps = create(name, thresholding(0.9, 3.0));
            Scheduler sample = create(name, Map.of("prediction_type", "sample"));
            eps.setTimesteps(8);
            sample.setTimesteps(8);
            Random r = new Random(5);
            float[] x = new float[N];
            float[] e = new float[N];
            for (int i = 0; i < N; i++) {
                x[i] = (float) (r.nextGaussian() * eps.initNoiseSigma());
                e[i] = (float) (0.3 * r.nextGaussian());
            }
            double sigma = eps.sigmas()[0];
            double[] x0 = new double[N];
            for (int i = 0; i < N; i++) {
                x0[i] = x[i] * Math.sqrt(sigma * sigma + 1) - sigma * e[i];
            }
            float[] x0Thresholded = new float[N];
            for (int b = 0; b < 2; b++) {
                double[] abs = new double[N / 2];
                for (int i = 0; i < N / 2; i++) {
                    abs[i] = Math.abs(x0[b * N / 2 + i]);
                }
                java.util.Arrays.sort(abs);
                double pos = 0.9 * (N / 2 - 1);
                int lo = (int) pos;
                double q = abs[lo] + (pos - lo) * (abs[lo + 1] - abs[lo]);
                double s = Math.min(Math.max(q, 1), 3);
                assertTrue(q > 1, name + ": the test's x0 must exceed 1 to be thresholded, quantile " + q);
                for (int i = 0; i < N / 2; i++) {
                    x0Thresholded[b * N / 2 + i] = (float) (Math.max(-s, Math.min(s, x0[b * N / 2 + i])) / s);
                }
            }
            float[] a = eps.step(e, 0, x, SHAPE, null);
            float[] want = sample.step(x0Thresholded, 0, x, SHAPE, null);
            for (int i = 0; i < N; i++) {
                assertEquals(want[i], a[i], 2e-6 * Math.max(1, Math.abs(want[i])), name + " at " + i);
            }
        }
    }

    @Test
    void schedulersWithoutItRefuseIt() {
        var lcm = assertThrows(IllegalArgumentException.class, () -> create("lcm", thresholding(0.9, 2)));
        assertTrue(lcm.getMessage().contains("not implemented for this scheduler"), lcm.getMessage());
        assertThrows(SchedulerOptionException.class, () -> create("euler", thresholding(0.9, 2)));   // no such key in diffusers
    }

    private static Map<String, Object> thresholding(double ratio, double max) {
        return Map.of("thresholding", true, "dynamic_thresholding_ratio", ratio, "sample_max_value", max);
    }

    private static Scheduler create(String name, Map<String, Object> options) {
        Map<String, Object> config = new LinkedHashMap<>(SchedulersTest.sd15Config());
        config.putAll(options);
        return SchedulerOptions.apply(Schedulers.create(name, config, false), options);
    }

    /** A short run from large samples (|x| up to about 6) with a model output that keeps x0 outside [-1, 1]. */
    private static float[] run(Scheduler s, int steps) {
        s.setTimesteps(steps);
        Random r = new Random(11);
        float[] x = new float[N];
        for (int i = 0; i < N; i++) {
            x[i] = (float) (2 * r.nextGaussian());
        }
        SchedulerBehaviourTest.SeededNoise noise = new SchedulerBehaviourTest.SeededNoise(3);
        for (int i = 0; i < s.timesteps().length; i++) {
            float[] out = new float[N];
            for (int k = 0; k < N; k++) {
                out[k] = (float) (0.1 * x[k]);
            }
            x = s.step(out, i, x, SHAPE, noise);
        }
        return x;
    }
}
