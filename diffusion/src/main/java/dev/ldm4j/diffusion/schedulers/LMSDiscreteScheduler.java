// Linear multistep sampling (k-diffusion's sample_lms, Karras et al. 2022 setting): an Adams-
// Bashforth-type update in sigma whose coefficients integrate the Lagrange basis polynomials of the
// last (up to 4) derivatives over [sigma_i, sigma_{i+1}]. Mirrors diffusers' LMSDiscreteScheduler,
// which integrates with scipy's quad; the integrands are polynomials of degree <= 3, so a 4-point
// Gauss-Legendre rule (Apache Commons Math) integrates them exactly.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;
import org.apache.commons.math3.analysis.integration.gauss.GaussIntegratorFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public final class LMSDiscreteScheduler extends KDiffusionScheduler {
    public static Map<String, Object> defaults() {
        return KDiffusion.commonDefaults(0.0001, 0.02);
    }

    private static final int ORDER = 4;
    private static final GaussIntegratorFactory GAUSS = new GaussIntegratorFactory();

    private final String predictionType;
    private final List<double[]> derivatives = new ArrayList<>();

    public LMSDiscreteScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("LMSDiscreteScheduler", defaults(), config));
    }

    public LMSDiscreteScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        rejectUnsupportedSigmaOptions();
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        SigmaSchedule s = SigmaSchedule.of(config, alphasCumprod, steps, config.getBoolean("use_karras_sigmas"), false);
        timesteps = s.timesteps();
        sigmas = s.withFinal(0.0);
        derivatives.clear();
    }

    /** Integral over [sigma_t, sigma_{t+1}] of the Lagrange basis polynomial for derivative t - j. */
    private double lmsCoefficient(int order, int t, int j) {
        // sigmas decrease: integral from sigma_t down to sigma_{t+1} = -(integral from sigma_{t+1} up to sigma_t).
        return -GAUSS.legendre(ORDER, sigmas[t + 1], sigmas[t]).integrate(tau -> {
            double prod = 1.0;
            for (int k = 0; k < order; k++) {
                if (k != j) {
                    prod *= (tau - sigmas[t - k]) / (sigmas[t - j] - sigmas[t - k]);
                }
            }
            return prod;
        });
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        double sigma = sigmas[stepIndex];
        double[] d = new double[sample.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = (sample[i] - KDiffusion.denoised(predictionType, sample[i], modelOutput[i], sigma)) / sigma;
        }
        derivatives.add(d);
        if (derivatives.size() > ORDER) {
            derivatives.remove(0);
        }
        // As diffusers: the order follows the step index, and only the stored derivatives are summed.
        int order = Math.min(stepIndex + 1, ORDER);
        int terms = Math.min(order, derivatives.size());
        double[] coeffs = new double[terms];
        for (int j = 0; j < terms; j++) {
            coeffs[j] = lmsCoefficient(order, stepIndex, j);
        }
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            double v = sample[i];
            for (int j = 0; j < terms; j++) {
                v += coeffs[j] * derivatives.get(derivatives.size() - 1 - j)[i];
            }
            out[i] = (float) v;
        }
        return out;
    }
}
