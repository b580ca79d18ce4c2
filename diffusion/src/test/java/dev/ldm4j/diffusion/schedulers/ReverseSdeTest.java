// The SDE view on a problem with a known answer: Gaussian data x0 ~ N(mu_j, sd_j^2) per dimension, whose noised
// distribution p_sigma = N(mu_j, sd_j^2 + sigma^2) has the exact score s = -(x - mu) / (sd^2 + sigma^2), i.e. the exact
// noise prediction eps = -sigma s. Fed that eps, the reverse-SDE samplers must draw the data distribution: the sample
// mean and variance (pooled over dimensions after standardizing) within a tolerance derived from the number of
// samples, plus the discretization bias of the Euler-Maruyama chain, computed here exactly from its linear recursion.
// The predictor-corrector sampler with snr 0 is the predictor alone, bit for bit; with snr 0.16 its Langevin
// corrector brings a coarse chain's variance closer to the data's. Draws come from the torch-compatible generator.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.TorchGenerator;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReverseSdeTest {
    private static final int SAMPLES = 64;
    private static final int DIM = 1024;                        // large per sample, as an image: the corrector's norms concentrate
    private static final int[] SHAPE = {SAMPLES, DIM};

    private static double mu(int j) {
        return j % 2 == 0 ? 0.2 : -0.1;
    }

    private static double sd(int j) {
        return j % 4 < 2 ? 0.5 : 1.0;
    }

    private static Scheduler create(String name, Map<String, Object> options) {
        Map<String, Object> config = new LinkedHashMap<>(SchedulersTest.sd15Config());
        config.put("timestep_spacing", "linspace");
        config.putAll(options);
        return SchedulerOptions.apply(Schedulers.create(name, config, false), options);
    }

    /** Runs the scheduler from its start with the exact Gaussian noise prediction; returns the samples [SAMPLES, DIM]. */
    private static float[] sample(Scheduler s, int steps, long seed) {
        s.setTimesteps(steps);
        TorchGenerator noise = new TorchGenerator(seed);
        float[] x = noise.randn(SHAPE);
        for (int k = 0; k < x.length; k++) {
            x[k] *= (float) s.initNoiseSigma();
        }
        double[] sigmas = s.sigmas();
        for (int i = 0; i < s.timesteps().length; i++) {
            double sigma = sigmas[i];
            float[] eps = new float[x.length];
            for (int k = 0; k < x.length; k++) {
                int j = k % DIM;
                eps[k] = (float) (sigma * (x[k] - mu(j)) / (sd(j) * sd(j) + sigma * sigma));
            }
            x = s.step(eps, i, x, SHAPE, noise);
        }
        return x;
    }

    /** {mean, variance} of (x - mu_j) / sd_j over all samples and dimensions. */
    private static double[] standardizedMoments(float[] x) {
        double sum = 0;
        double sumSq = 0;
        for (int k = 0; k < x.length; k++) {
            int j = k % DIM;
            double z = (x[k] - mu(j)) / sd(j);
            sum += z;
            sumSq += z * z;
        }
        double mean = sum / x.length;
        return new double[] {mean, (sumSq - x.length * mean * mean) / (x.length - 1)};
    }

    /**
     * The exact variance, relative to sd^2 and averaged over the two sds, that the Euler-Maruyama chain reaches with the
     * exact score: v <- v (1 - d / (sd^2 + sigma_i^2))^2 + d (no noise on the last step), d = sigma_i^2 - sigma_{i+1}^2,
     * from v = sigma_0^2.
     */
    private static double chainRelativeVariance(double[] sigmas) {
        double total = 0;
        for (double sd : new double[] {0.5, 1.0}) {
            double v = sigmas[0] * sigmas[0];
            for (int i = 0; i + 1 < sigmas.length; i++) {
                double a = sigmas[i] * sigmas[i];
                double b = sigmas[i + 1] * sigmas[i + 1];
                double k = 1 - (a - b) / (sd * sd + a);
                v = v * k * k + (b > 0 ? a - b : 0);
            }
            total += v / (sd * sd) / 2;
        }
        return total;
    }

    private static final int VALUES = SAMPLES * DIM;
    /** Four standard errors of the pooled standardized mean (1 / sqrt(n)) and variance (sqrt(2 / (n - 1))). */
    private static final double MEAN_TOLERANCE = 4 / Math.sqrt(VALUES);
    private static final double VARIANCE_TOLERANCE = 4 * Math.sqrt(2.0 / (VALUES - 1));

    @Test
    void eulerMaruyamaDrawsTheGaussianDataDistribution() {
        Scheduler s = create("sde_euler", Map.of());
        float[] x = sample(s, 1000, 7);
        double chain = chainRelativeVariance(s.sigmas());
        assertTrue(Math.abs(chain - 1) < 0.01, "1000 steps: the chain's own variance is within 1% of the data's, got " + chain);
        double[] m = standardizedMoments(x);
        System.out.printf("sde_euler, 1000 steps: standardized mean %.4f (tolerance %.4f), variance %.4f (chain %.4f, tolerance %.4f)%n",
                m[0], MEAN_TOLERANCE, m[1], chain, VARIANCE_TOLERANCE + Math.abs(chain - 1));
        assertEquals(0, m[0], MEAN_TOLERANCE, "standardized mean");
        assertEquals(1, m[1], VARIANCE_TOLERANCE + Math.abs(chain - 1), "standardized variance (chain " + chain + ")");
    }

    @Test
    void predictorCorrectorWithSnrZeroIsThePredictorAlone() {
        Scheduler pc = create("pc_langevin", Map.of("snr", 0.0, "corrector_steps", 2L));
        Scheduler em = create("sde_euler", Map.of());
        pc.setTimesteps(12);
        assertEquals(36, pc.timesteps().length, "two corrector evaluations and one predictor evaluation per level");
        assertEquals(3, pc.order());
        assertArrayEquals(sample(em, 12, 3), sample(pc, 12, 3));
    }

    @Test
    void theLangevinCorrectorBringsACoarseChainCloserToTheData() {
        Scheduler pc = create("pc_langevin", Map.of("snr", 0.16));
        float[] x = sample(pc, 50, 11);
        Scheduler em = create("sde_euler", Map.of());
        em.setTimesteps(50);
        double predictorAlone = Math.abs(chainRelativeVariance(em.sigmas()) - 1);
        double[] m = standardizedMoments(x);
        assertEquals(0, m[0], MEAN_TOLERANCE, "standardized mean");
        double corrected = Math.abs(m[1] - 1);
        System.out.printf("pc_langevin snr 0.16, 50 levels: standardized mean %.4f, variance %.4f; the predictor alone's chain: %.4f%n",
                m[0], m[1], 1 + predictorAlone);
        assertTrue(corrected + VARIANCE_TOLERANCE < predictorAlone,
                "variance off by " + corrected + " with the corrector, " + predictorAlone + " without (50 levels)");
    }

    @Test
    void theScoreOfEveryPredictionTypeIsTheExactGaussianScore() {
        double sigma = 2.5;
        double sd = 0.7;
        double mean = 0.3;
        float[] x = {-3f, 0.1f, 2f, 5f};
        float[] eps = new float[4];
        float[] v = new float[4];
        float[] x0 = new float[4];
        double[] want = new double[4];
        for (int i = 0; i < 4; i++) {
            want[i] = -(x[i] - mean) / (sd * sd + sigma * sigma);
            double e = -sigma * want[i];
            double d = x[i] - sigma * e;                              // D(x; sigma), Tweedie
            eps[i] = (float) e;
            x0[i] = (float) d;
            double alpha = 1 / Math.sqrt(sigma * sigma + 1);          // v = alpha eps - sigma alpha x0 (Salimans & Ho, VP form)
            v[i] = (float) (alpha * e - sigma * alpha * d);
        }
        assertArrayEquals(want, Score.fromEpsilon(eps, sigma), 1e-6);
        assertArrayEquals(want, Score.fromModelOutput("epsilon", eps, x, sigma), 1e-6);
        assertArrayEquals(want, Score.fromModelOutput("sample", x0, x, sigma), 1e-6);
        assertArrayEquals(want, Score.fromModelOutput("v_prediction", v, x, sigma), 1e-6);
    }
}
