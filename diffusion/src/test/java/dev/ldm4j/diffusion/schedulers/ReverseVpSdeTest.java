// Euler-Maruyama on the reverse VP SDE (sde_euler_vp) on a problem with a known answer: Gaussian data x0 ~ N(mu_j, sd_j^2)
// per dimension. In the variance-preserving scaling x_t = sqrt(abar) x0 + sqrt(1 - abar) eps the noised distribution is
// N(sqrt(abar) mu, abar sd^2 + 1 - abar), whose score s = -(x - sqrt(abar) mu) / (abar sd^2 + 1 - abar) is exact, and so
// is the noise prediction eps = -sqrt(1 - abar) s. Fed that eps, the sampler must draw the data distribution. Expected:
// the chain's own mean and variance, computed exactly from its linear recursion (it starts at N(0, 1) rather than at
// p_T and takes finite steps); the sample's pooled standardized mean and variance must lie within four standard errors
// of them, and the chain itself within 1% of the data's. The score in the VP scaling is checked for every prediction type.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.TorchGenerator;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReverseVpSdeTest {
    private static final int SAMPLES = 64;
    private static final int DIM = 1024;
    private static final int[] SHAPE = {SAMPLES, DIM};
    private static final int VALUES = SAMPLES * DIM;
    /** Four standard errors of the pooled standardized mean (1 / sqrt(n)) and variance (sqrt(2 / (n - 1))). */
    private static final double MEAN_TOLERANCE = 4 / Math.sqrt(VALUES);
    private static final double VARIANCE_TOLERANCE = 4 * Math.sqrt(2.0 / (VALUES - 1));
    private static final double[] MU = {0.2, -0.1, 0.2, -0.1};    // class j % 4
    private static final double[] SD = {0.5, 0.5, 1.0, 1.0};

    private static Scheduler create() {
        Map<String, Object> config = new LinkedHashMap<>(SchedulersTest.sd15Config());
        config.put("timestep_spacing", "linspace");
        return Schedulers.create("sde_euler_vp", config, false);
    }

    private static float[] sample(Scheduler s, int steps, long seed) {
        s.setTimesteps(steps);
        TorchGenerator noise = new TorchGenerator(seed);
        float[] x = noise.randn(SHAPE);                                   // initNoiseSigma is 1: x_T ~ N(0, I)
        assertEquals(1.0, s.initNoiseSigma());
        for (int i = 0; i < s.timesteps().length; i++) {
            double sigma = s.sigmaAt(i);
            double a = 1 / (1 + sigma * sigma);
            assertArrayEquals(x, s.scaleModelInput(x, i), "the U-Net is fed the VP state as it is");
            float[] eps = new float[x.length];
            for (int k = 0; k < x.length; k++) {
                int c = k % 4;
                double v = a * SD[c] * SD[c] + 1 - a;
                eps[k] = (float) (Math.sqrt(1 - a) * (x[k] - Math.sqrt(a) * MU[c]) / v);
            }
            x = s.step(eps, i, x, SHAPE, noise);
        }
        return x;
    }

    /** SD 1.5's betas (scaled_linear, 0.00085 to 0.012), computed here apart from the scheduler. */
    private static double beta(int j) {
        double lo = Math.sqrt(0.00085), hi = Math.sqrt(0.012);
        double r = lo + (hi - lo) * j / 999.0;
        return r * r;
    }

    /**
     * {mean, variance} that the chain reaches, pooled and standardized like the sample: per class, m <- k m + B sqrt(a) mu
     * / V and v <- k^2 v + B (no noise on the last step), k = 1 + B / 2 - B / V, V = a sd^2 + 1 - a, from m = 0, v = 1;
     * with 1000 linspace steps the timesteps are 999, ..., 0 and B of the step from t is beta_t.
     */
    private static double[] chainMoments(Scheduler s) {
        double[] t = s.timesteps();
        double mean = 0, second = 0;
        for (int c = 0; c < 4; c++) {
            double m = 0, v = 1;
            for (int i = 0; i < t.length; i++) {
                double sigma = s.sigmaAt(i);
                double a = 1 / (1 + sigma * sigma);
                double bigV = a * SD[c] * SD[c] + 1 - a;
                double b = beta((int) t[i]);
                double k = 1 + b / 2 - b / bigV;
                m = k * m + b * Math.sqrt(a) * MU[c] / bigV;
                v = k * k * v + (i < t.length - 1 ? b : 0);
            }
            double z = (m - MU[c]) / SD[c];
            mean += z / 4;
            second += (v / (SD[c] * SD[c]) + z * z) / 4;
        }
        return new double[] {mean, second - mean * mean};
    }

    private static double[] standardizedMoments(float[] x) {
        double sum = 0, sumSq = 0;
        for (int k = 0; k < x.length; k++) {
            int c = k % 4;
            double z = (x[k] - MU[c]) / SD[c];
            sum += z;
            sumSq += z * z;
        }
        double mean = sum / x.length;
        return new double[] {mean, (sumSq - x.length * mean * mean) / (x.length - 1)};
    }

    @Test
    void eulerMaruyamaOnTheVpSdeDrawsTheGaussianDataDistribution() {
        Scheduler s = create();
        float[] x = sample(s, 1000, 5);
        assertEquals(1000, s.timesteps().length);
        assertEquals(999, s.timesteps()[0]);
        assertEquals(0, s.timesteps()[999]);
        double[] chain = chainMoments(s);
        assertEquals(0, chain[0], 0.01, "the chain's own mean is within 0.01 sd of the data's");
        assertEquals(1, chain[1], 0.01, "the chain's own variance is within 1% of the data's");
        double[] m = standardizedMoments(x);
        System.out.printf("sde_euler_vp, 1000 steps: standardized mean %.4f (chain %.4f, tolerance %.4f), variance %.4f (chain %.4f,"
                + " tolerance %.4f)%n", m[0], chain[0], MEAN_TOLERANCE, m[1], chain[1], VARIANCE_TOLERANCE);
        assertEquals(chain[0], m[0], MEAN_TOLERANCE, "standardized mean");
        assertEquals(chain[1], m[1], VARIANCE_TOLERANCE, "standardized variance");
    }

    @Test
    void aCoarseChainStaysNearTheData() {
        Scheduler s = create();
        float[] x = sample(s, 50, 9);
        double[] m = standardizedMoments(x);
        System.out.printf("sde_euler_vp, 50 steps: standardized mean %.4f, variance %.4f%n", m[0], m[1]);
        assertEquals(0, m[0], 0.05, "standardized mean");
        assertEquals(1, m[1], 0.15, "standardized variance");
    }

    @Test
    void theVpScoreOfEveryPredictionTypeIsTheExactGaussianScore() {
        double sigma = 1.7;
        double a = 1 / (1 + sigma * sigma);
        double sd = 0.6, mean = -0.4;
        float[] xt = {-2f, 0.05f, 1f, 2.5f};
        float[] eps = new float[4], v = new float[4], x0 = new float[4];
        double[] want = new double[4];
        for (int i = 0; i < 4; i++) {
            double var = a * sd * sd + 1 - a;
            want[i] = -(xt[i] - Math.sqrt(a) * mean) / var;
            double e = -Math.sqrt(1 - a) * want[i];
            double d = (xt[i] - Math.sqrt(1 - a) * e) / Math.sqrt(a);       // Tweedie's x0
            eps[i] = (float) e;
            x0[i] = (float) d;
            v[i] = (float) (Math.sqrt(a) * e - Math.sqrt(1 - a) * d);       // Salimans & Ho 2022
        }
        assertArrayEquals(want, Score.fromModelOutputVp("epsilon", eps, xt, sigma), 1e-5);
        assertArrayEquals(want, Score.fromModelOutputVp("sample", x0, xt, sigma), 1e-5);
        assertArrayEquals(want, Score.fromModelOutputVp("v_prediction", v, xt, sigma), 1e-5);
        for (int i = 0; i < 4; i++) {
            assertEquals(-eps[i] / Math.sqrt(1 - a), Score.fromModelOutputVp("epsilon", eps, xt, sigma)[i], 1e-5, "-eps / sqrt(1 - abar)");
        }
    }

    @Test
    void theStepIntegratesTheTrainBetasOverItsInterval() {
        EulerMaruyamaVpScheduler s = (EulerMaruyamaVpScheduler) create();
        assertEquals(0, s.integratedBeta(-1), 0);
        assertEquals(beta(0), s.integratedBeta(0), 1e-9);
        double c10 = 0;
        for (int j = 0; j <= 10; j++) {
            c10 += beta(j);
        }
        assertEquals(c10, s.integratedBeta(10), 1e-7);
        assertEquals(c10 + 0.25 * beta(11), s.integratedBeta(10.25), 1e-7);
    }
}
