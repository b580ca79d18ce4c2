// Properties every scheduler must have beyond the diffusers trajectories: a fresh schedule resets all
// multistep state, add_noise is the forward process, noise is drawn in the sample's shape, misuse
// fails with a one-line message, and the noise-schedule helpers satisfy the identities they implement.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SchedulerBehaviourTest {
    static final int[] SHAPE = {1, 4, 4, 4};
    static final int SIZE = 64;

    static List<String> names() {
        return Schedulers.names();
    }

    /** A seeded Gaussian source that records the shapes it was asked for. */
    static final class SeededNoise implements NoiseSource {
        final Random random;
        final List<int[]> shapes = new ArrayList<>();

        SeededNoise(long seed) {
            random = new Random(seed);
        }

        @Override
        public float[] randn(int... shape) {
            shapes.add(shape.clone());
            int n = 1;
            for (int d : shape) {
                n *= d;
            }
            float[] z = new float[n];
            for (int i = 0; i < n; i++) {
                z[i] = (float) random.nextGaussian();
            }
            return z;
        }
    }

    static float[] run(Scheduler s, int steps, long seed) {
        s.setTimesteps(steps);
        SeededNoise noise = new SeededNoise(seed);
        float[] x = noise.randn(SHAPE);
        for (int k = 0; k < x.length; k++) {
            x[k] *= (float) s.initNoiseSigma();
        }
        double[] t = s.timesteps();
        for (int i = 0; i < t.length; i++) {
            float[] in = s.scaleModelInput(x, i);
            float[] eps = new float[SIZE];
            for (int k = 0; k < SIZE; k++) {
                eps[k] = (float) (0.8 * in[k] + 0.05 * Math.cos(t[i] / 1000 * Math.PI / 2));
            }
            x = s.step(eps, i, x, SHAPE, noise);
        }
        for (int[] shape : noise.shapes) {
            assertArrayEquals(SHAPE, shape, s.name() + " draws noise in the sample's shape");
        }
        return x;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("names")
    void setTimestepsResetsAllStepState(String name) {
        Scheduler s = Schedulers.create(name, SchedulersTest.sd15Config(), false);
        float[] first = run(s, 8, 7);
        run(s, 5, 3); // a different, interrupted-free run in between
        float[] again = run(s, 8, 7);
        assertArrayEquals(first, again, name + ": the same schedule and noise must give the same result");
        for (float v : first) {
            assertTrue(Float.isFinite(v), name + " produced " + v);
        }
    }

    @Test
    void addNoiseIsTheForwardProcessInBothParameterisations() {
        // DDIM noises as sqrt(a) x + sqrt(1 - a) n (alpha_bar path); Euler as x + sigma n (sigma path).
        // With sigma = sqrt((1 - a) / a) the two agree up to the factor sqrt(a) = 1 / sqrt(1 + sigma^2).
        Map<String, Object> cfg = new LinkedHashMap<>(SchedulersTest.sd15Config());
        cfg.put("timestep_spacing", "trailing");
        cfg.put("steps_offset", 0L);
        Scheduler ddim = Schedulers.create("ddim", cfg, false);
        Scheduler euler = Schedulers.create("euler", cfg, false);
        ddim.setTimesteps(10);
        euler.setTimesteps(10);
        assertArrayEquals(ddim.timesteps(), euler.timesteps());
        float[] x = new SeededNoise(1).randn(SHAPE);
        float[] n = new SeededNoise(2).randn(SHAPE);
        for (int i = 0; i < 10; i++) {
            double sigma = euler.sigmas()[i];
            float[] a = ddim.addNoise(x, n, i);
            float[] b = euler.addNoise(x, n, i);
            for (int k = 0; k < SIZE; k++) {
                assertEquals(b[k], a[k] * Math.sqrt(1 + sigma * sigma), 2e-5 * (1 + Math.abs(b[k])), "step " + i);
            }
        }
        // The SD 1.x schedule's largest sigma, as diffusers computes it (schedulers.safetensors, euler.10.sigmas[0]).
        assertEquals(14.6146469116, euler.sigmas()[0], 1e-6);
    }

    @Test
    void misuseFailsWithOneLineMessages() {
        Scheduler s = Schedulers.create("euler_a", SchedulersTest.sd15Config(), false);
        var before = assertThrows(IllegalStateException.class, () -> s.step(new float[SIZE], 0, new float[SIZE], SHAPE, new SeededNoise(1)));
        assertTrue(before.getMessage().contains("setTimesteps"), before.getMessage());
        s.setTimesteps(4);
        var noNoise = assertThrows(IllegalArgumentException.class, () -> s.step(new float[SIZE], 0, new float[SIZE], SHAPE, null));
        assertTrue(noNoise.getMessage().contains("NoiseSource"), noNoise.getMessage());
        var badShape = assertThrows(IllegalArgumentException.class, () -> s.step(new float[SIZE], 0, new float[SIZE], new int[] {1, 4, 4, 5}, new SeededNoise(1)));
        assertTrue(badShape.getMessage().contains("[1, 4, 4, 5]"), badShape.getMessage());
        var badIndex = assertThrows(IllegalArgumentException.class, () -> s.scaleModelInput(new float[SIZE], 4));
        assertTrue(badIndex.getMessage().contains("step index 4"), badIndex.getMessage());
        var tooMany = assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(1001));
        assertTrue(tooMany.getMessage().contains("1001"), tooMany.getMessage());
        var mismatch = assertThrows(IllegalArgumentException.class, () -> s.step(new float[SIZE - 1], 0, new float[SIZE], SHAPE, new SeededNoise(1)));
        assertTrue(mismatch.getMessage().contains("63"), mismatch.getMessage());
    }

    @Test
    void ddimWithEtaDrawsOncePerStep() {
        DDIMScheduler s = (DDIMScheduler) Schedulers.create("ddim", SchedulersTest.sd15Config(), false);
        s.setEta(1.0);
        s.setTimesteps(6);
        SeededNoise noise = new SeededNoise(5);
        float[] x = new float[SIZE];
        for (int i = 0; i < 6; i++) {
            x = s.step(new float[SIZE], i, x, SHAPE, noise);
        }
        assertEquals(6, noise.shapes.size());
    }

    @Test
    void secondOrderSchedulersListBothEvaluationsOfEachStep() {
        for (String name : List.of("heun", "kdpm2", "kdpm2_a")) {
            Scheduler s = Schedulers.create(name, SchedulersTest.sd15Config(), false);
            s.setTimesteps(7);
            assertEquals(2, s.order(), name);
            assertEquals(2 * 7 - 1, s.timesteps().length, name);
        }
    }

    @Test
    void pndmWithoutSkippingPrkUsesTheRungeKuttaWarmUpSchedule() {
        Map<String, Object> cfg = new LinkedHashMap<>(SchedulersTest.sd15Config());
        cfg.put("skip_prk_steps", false);
        Scheduler s = Schedulers.create("pndm", cfg, false);
        s.setTimesteps(10);
        // diffusers: last 4 of [1, 101, ..., 901] each with +50, repeated and trimmed, then PLMS over [1..601].
        double[] expected = {901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1};
        assertArrayEquals(expected, s.timesteps());
        float[] out = run(s, 10, 11);
        for (float v : out) {
            assertTrue(Float.isFinite(v));
        }
    }

    @Test
    void betaSchedulesSatisfyTheirDefinitions() {
        Map<String, Object> cfg = new LinkedHashMap<>(DDPMScheduler.defaults());
        float[] linear = NoiseSchedule.betas(new SchedulerConfig("DDPMScheduler", DDPMScheduler.defaults(), cfg));
        assertEquals(1e-4f, linear[0]);
        assertEquals(0.02f, linear[999]);
        assertEquals((1e-4 + 0.02) / 2, (linear[499] + linear[500]) / 2, 1e-7);

        // Nichol & Dhariwal 2021 eq. 17: prod_{j<=i} (1 - beta_j) = alpha_bar((i+1)/N) / alpha_bar(0) while beta < 0.999.
        cfg.put("beta_schedule", "squaredcos_cap_v2");
        float[] cosine = NoiseSchedule.betas(new SchedulerConfig("DDPMScheduler", DDPMScheduler.defaults(), cfg));
        float[] ac = NoiseSchedule.alphasCumprod(cosine);
        double f0 = Math.pow(Math.cos(0.008 / 1.008 * Math.PI / 2), 2);
        for (int i : new int[] {0, 99, 499, 899}) {
            double expected = Math.pow(Math.cos(((i + 1) / 1000.0 + 0.008) / 1.008 * Math.PI / 2), 2) / f0;
            assertEquals(expected, ac[i], 1e-5 * Math.max(expected, 1e-2), "alpha_bar at " + i);
        }

        // Lin et al. 2023, Algorithm 1: zero terminal SNR keeps alpha_bar_0 and makes alpha_bar_T exactly 0.
        cfg.put("beta_schedule", "scaled_linear");
        cfg.put("beta_start", 0.00085);
        cfg.put("beta_end", 0.012);
        float[] b = NoiseSchedule.betas(new SchedulerConfig("DDPMScheduler", DDPMScheduler.defaults(), cfg));
        float[] rescaled = NoiseSchedule.alphasCumprod(NoiseSchedule.rescaleZeroTerminalSnr(b));
        assertEquals(0f, rescaled[999]);
        assertEquals(NoiseSchedule.alphasCumprod(b)[0], rescaled[0], 1e-6);
    }

    @Test
    void consistencySchedulesTakeImageToImageTimestepsFromTheStrengthPrefix() {
        LCMScheduler lcm = (LCMScheduler) Schedulers.create("lcm", SchedulersTest.sd15Config(), false);
        // original_inference_steps 50, k = 20: strength 0.5 keeps t = 19, 39, ..., 499 (25 points);
        // indices floor(linspace(0, 25, 4, endpoint=False)) = 0, 6, 12, 18 of the reversed list.
        lcm.setTimesteps(4, 0.5);
        assertArrayEquals(new double[] {499, 379, 259, 139}, lcm.timesteps());
        lcm.setTimesteps(4);
        assertArrayEquals(new double[] {999, 759, 499, 259}, lcm.timesteps());
        var e = assertThrows(IllegalArgumentException.class, () -> lcm.setTimesteps(8, 0.1));
        assertTrue(e.getMessage().contains("strength"), e.getMessage());
    }

    @Test
    void karrasSigmasSpanTheTrainRangeWithRho7() {
        double[] s = NoiseSchedule.karrasSigmas(0.03, 14.6, 5);
        assertEquals(14.6, s[0], 1e-12);
        assertEquals(0.03, s[4], 1e-12);
        // the midpoint in sigma^(1/7) space
        double mid = Math.pow((Math.pow(14.6, 1 / 7.0) + Math.pow(0.03, 1 / 7.0)) / 2, 7);
        assertEquals(mid, s[2], 1e-12);
    }
}
