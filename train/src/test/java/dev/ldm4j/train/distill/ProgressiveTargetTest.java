// The progressive-distillation target (Salimans & Ho 2022, Algorithm 2) against what it promises: for a teacher
// that is the exact denoiser of Gaussian data, x ~ N(mu, s^2) per coordinate, whose clean estimate is the posterior
// mean E[x | z_t] = mu + alpha s^2 / (alpha^2 s^2 + sigma^2) (z - alpha mu), one student DDIM step (diffusers'
// DDIMScheduler with N steps) with the target x~ as its clean estimate lands where two teacher DDIM steps
// (DDIMScheduler with 2N steps) land, at every step of the grid, the last one to t = -1 included; and the teacher's own
// one-step estimate lands elsewhere (so the check can fail). Schedules: SD's scaled-linear betas rescaled to zero
// terminal SNR with v-prediction (the built-in model's), and the plain one with epsilon prediction.
package dev.ldm4j.train.distill;

import dev.ldm4j.diffusion.schedulers.DDIMScheduler;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProgressiveTargetTest {
    static final double MU = 0.3, S = 0.7;

    static Map<String, Object> schedule(String prediction, boolean zeroSnr) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("num_train_timesteps", 1000);
        c.put("beta_start", 0.00085);
        c.put("beta_end", 0.012);
        c.put("beta_schedule", "scaled_linear");
        c.put("clip_sample", false);
        c.put("set_alpha_to_one", false);
        c.put("steps_offset", 0);
        c.put("prediction_type", prediction);
        c.put("timestep_spacing", "trailing");
        c.put("rescale_betas_zero_snr", zeroSnr);
        return c;
    }

    /** The Gaussian-data denoiser's output at (z, t) in the schedule's parameterisation (m with x0 = a z + b m). */
    static float[] analyticTeacher(NoiseLevels levels, float[] z, int t) {
        double alpha = levels.alpha(t), sigma = levels.sigma(t);
        double gain = alpha * S * S / (alpha * alpha * S * S + sigma * sigma);
        NoiseLevels.Affine x0 = levels.x0(t);
        float[] m = new float[z.length];
        for (int i = 0; i < z.length; i++) {
            double xHat = MU + gain * (z[i] - alpha * MU);
            m[i] = (float) ((xHat - x0.a() * z[i]) / x0.b());
        }
        return m;
    }

    @Test
    void oneStudentDdimStepOnTheTargetLandsWhereTwoTeacherStepsLand() {
        check("v_prediction", true);
        check("epsilon", false);
    }

    private void check(String prediction, boolean zeroSnr) {
        Map<String, Object> config = schedule(prediction, zeroSnr);
        NoiseLevels levels = NoiseLevels.of(config);
        int n = 4;
        DDIMScheduler teacher = new DDIMScheduler(config);
        teacher.setTimesteps(2 * n);
        DDIMScheduler student = new DDIMScheduler(config);
        student.setTimesteps(n);
        int[] grid = levels.trailingGrid(n);
        int[] shape = {1, 4, 3, 3};
        SplittableRandom random = new SplittableRandom(5);
        for (int i = 0; i < n; i++) {
            assertEquals(grid[i], (int) student.timesteps()[i], "the student grid is DDIMScheduler's");
            float[] z = new float[36];
            for (int k = 0; k < z.length; k++) {
                z[k] = (float) (2 * random.nextDouble() - 1);
            }
            int t = grid[i], t2 = grid[i + 1];
            // Two teacher steps of the 2N-step DDIM sampler: t -> t' -> t''.
            float[] z1 = teacher.step(analyticTeacher(levels, z, t), 2 * i, z, shape, null);
            int t1 = (int) teacher.timesteps()[2 * i + 1];
            float[] z2 = teacher.step(analyticTeacher(levels, z1, t1), 2 * i + 1, z1, shape, null);
            // The same two steps through NoiseLevels (the objective's teacher path).
            float[] mine = levels.ddimStep(levels.ddimStep(z, analyticTeacher(levels, z, t), new int[] {t}, new int[] {t1}),
                    analyticTeacher(levels, z1, t1), new int[] {t1}, new int[] {t2});
            assertArrayEquals(z2, mine, 2e-6f, "NoiseLevels.ddimStep is DDIMScheduler.step at eta 0");
            float[] xTilde = ProgressiveDistillation.target(z, z2, new double[] {levels.alpha(t)}, new double[] {levels.sigma(t)},
                    new double[] {levels.alpha(t2)}, new double[] {levels.sigma(t2)});
            NoiseLevels.Affine x0 = levels.x0(t);
            float[] m = new float[z.length];
            for (int k = 0; k < z.length; k++) {
                m[k] = (float) ((xTilde[k] - x0.a() * z[k]) / x0.b());
            }
            float[] oneStep = student.step(m, i, z, shape, null);
            float tol = 2e-5f * Math.max(1, maxAbs(z2));
            assertArrayEquals(z2, oneStep, tol, prediction + ": step " + i + " (t " + t + " -> " + t2 + ")");
            float[] naive = student.step(analyticTeacher(levels, z, t), i, z, shape, null);
            assertTrue(maxDiff(naive, z2) > 1e-3, prediction + ": the teacher's own one step lands elsewhere at step " + i
                    + " (" + maxDiff(naive, z2) + ")");
        }
    }

    @Test
    void trailingGridsNestAndMatchDdim() {
        NoiseLevels levels = NoiseLevels.of(schedule("v_prediction", true));
        for (int n : new int[] {1, 2, 4, 8}) {
            DDIMScheduler d = new DDIMScheduler(schedule("v_prediction", true));
            d.setTimesteps(n);
            int[] grid = levels.trailingGrid(n);
            assertEquals(n + 1, grid.length);
            assertEquals(-1, grid[n]);
            for (int i = 0; i < n; i++) {
                assertEquals((int) d.timesteps()[i], grid[i], n + " steps, step " + i);
            }
        }
        for (int n : new int[] {1, 2, 4, 8, 16, 32}) {
            int[] coarse = levels.trailingGrid(n), fine = levels.trailingGrid(2 * n);
            for (int i = 0; i <= n; i++) {
                assertEquals(coarse[i], fine[2 * i], "grid of " + 2 * n + " holds the grid of " + n);
            }
        }
        assertArrayEquals(new int[] {999, 983, 968, 952}, java.util.Arrays.copyOf(levels.trailingGrid(64), 4),
                "round(1000 - 15.625 i) - 1, half to even");
    }

    private static float maxAbs(float[] a) {
        float m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    private static float maxDiff(float[] a, float[] b) {
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
