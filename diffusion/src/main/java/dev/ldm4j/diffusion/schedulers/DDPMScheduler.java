// Denoising Diffusion Probabilistic Models (Ho, Jain & Abbeel 2020): ancestral sampling from the
// posterior q(x_{t-1} | x_t, x_0) with x_0 predicted by the model. Mirrors diffusers' DDPMScheduler.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class DDPMScheduler extends BaseScheduler {
    /** The settings DDPMScheduler declares, with diffusers' defaults. */
    public static Map<String, Object> defaults() {
        Map<String, Object> d = NoiseSchedule.trainDefaults(0.0001, 0.02, "linear");
        d.put("variance_type", "fixed_small");
        d.put("clip_sample", true);
        d.put("prediction_type", "epsilon");
        d.put("thresholding", false);
        d.put("dynamic_thresholding_ratio", 0.995);
        d.put("clip_sample_range", 1.0);
        d.put("sample_max_value", 1.0);
        d.put("timestep_spacing", "leading");
        d.put("steps_offset", 0L);
        d.put("rescale_betas_zero_snr", false);
        return d;
    }

    private final String predictionType;
    private final String varianceType;
    private final DynamicThresholding thresholding;
    private boolean customTimesteps;

    public DDPMScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("DDPMScheduler", defaults(), config));
    }

    public DDPMScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        varianceType = config.getChoice("variance_type", "fixed_small", "fixed_small_log", "fixed_large");
        thresholding = dynamicThresholding();
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        timesteps = NoiseSchedule.spacedTimesteps(config, steps, true);
        customTimesteps = false;
    }

    /** set_timesteps(timesteps=t): whole train timesteps; each step goes to the next one given (the last to t = -1, the clean sample). */
    @Override
    public void setCustomTimesteps(double[] t) {
        CustomSchedule.checkTimesteps(this, t, numTrainTimesteps, true);
        timesteps = t.clone();
        customTimesteps = true;
    }

    /** diffusers' previous_timestep: the next custom timestep (-1 after the last), else t - num_train_timesteps // steps. */
    private double previousTimestep(int stepIndex) {
        double t = timesteps[stepIndex];
        if (customTimesteps) {
            return stepIndex == timesteps.length - 1 ? -1 : timesteps[stepIndex + 1];
        }
        return t - numTrainTimesteps / numInferenceSteps;
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        double t = timesteps[stepIndex];
        double prevT = previousTimestep(stepIndex);
        double aT = alphaBar(t);
        double aPrev = prevT >= 0 ? alphaBar(prevT) : 1.0;
        double bT = 1 - aT;
        double bPrev = 1 - aPrev;
        double currentAlpha = aT / aPrev;
        double currentBeta = 1 - currentAlpha;

        // Posterior mean, Ho et al. 2020, eq. 7:
        // mu = sqrt(a_prev) beta_t / (1 - a_t) * x0 + sqrt(alpha_t) (1 - a_prev) / (1 - a_t) * x_t
        double x0Coeff = Math.sqrt(aPrev) * currentBeta / bT;
        double xtCoeff = Math.sqrt(currentAlpha) * bPrev / bT;
        boolean clip = config.getBoolean("clip_sample");
        double range = config.getDouble("clip_sample_range");
        float[] z = t > 0 ? randn(noise, shape, sample.length) : null;
        double std = t > 0 ? stdDev(currentBeta, aT, aPrev) : 0;

        double[] x0 = new double[sample.length];
        for (int i = 0; i < x0.length; i++) {
            x0[i] = predictedX0(predictionType, sample[i], modelOutput[i], aT, bT, clip && thresholding == null, range);
        }
        if (thresholding != null) {
            thresholding.apply(x0, shape[0]);       // instead of clipping, as diffusers
        }
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            double prev = x0Coeff * x0[i] + xtCoeff * sample[i];
            if (z != null) {
                prev += std * z[i];
            }
            out[i] = (float) prev;
        }
        return out;
    }

    /** Standard deviation of the added noise; "fixed_small" is the posterior variance of Ho et al. eq. 7. */
    private double stdDev(double currentBeta, double aT, double aPrev) {
        double posterior = Math.max((1 - aPrev) / (1 - aT) * currentBeta, 1e-20);
        return switch (varianceType) {
            case "fixed_small" -> Math.sqrt(posterior);
            case "fixed_small_log" -> Math.exp(0.5 * Math.log(posterior));
            default -> Math.sqrt(currentBeta);
        };
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int stepIndex) {
        checkStep(stepIndex, original);
        return addNoiseAlphaBar(original, noise, timesteps[stepIndex]);
    }
}
