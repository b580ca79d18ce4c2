// Ancestral Euler sampling (k-diffusion's sample_euler_ancestral, "Euler a" in A1111): an Euler
// step down to sigma_down, then fresh noise of size sigma_up, with sigma_down^2 + sigma_up^2 =
// sigma_next^2 so the marginal noise level matches (eta = 1). Mirrors diffusers'
// EulerAncestralDiscreteScheduler; it draws one noise sample per step, the last one included.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class EulerAncestralDiscreteScheduler extends KDiffusionScheduler {
    public static Map<String, Object> defaults() {
        Map<String, Object> d = NoiseSchedule.trainDefaults(0.0001, 0.02, "linear");
        d.put("prediction_type", "epsilon");
        d.put("timestep_spacing", "linspace");
        d.put("steps_offset", 0L);
        d.put("rescale_betas_zero_snr", false);
        return d;
    }

    private final String predictionType;

    public EulerAncestralDiscreteScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("EulerAncestralDiscreteScheduler", defaults(), config));
    }

    public EulerAncestralDiscreteScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "v_prediction");
        if (config.getBoolean("rescale_betas_zero_snr")) {
            alphasCumprod[numTrainTimesteps - 1] = 0x1p-24f;
        }
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        SigmaSchedule s = SigmaSchedule.of(config, alphasCumprod, steps, false, false);
        timesteps = s.timesteps();
        sigmas = s.withFinal(0.0);
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        double sigma = sigmas[stepIndex];
        double sigmaTo = sigmas[stepIndex + 1];
        // k-diffusion get_ancestral_step with eta = 1.
        double sigmaUp = Math.sqrt(sigmaTo * sigmaTo * (sigma * sigma - sigmaTo * sigmaTo) / (sigma * sigma));
        double sigmaDown = Math.sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
        double dt = sigmaDown - sigma;
        float[] z = randn(noise, shape, sample.length);
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            double m = modelOutput[i];
            double x = sample[i];
            double denoised = KDiffusion.denoised(predictionType, x, m, sigma);
            double derivative = (x - denoised) / sigma;
            out[i] = (float) (x + derivative * dt + z[i] * sigmaUp);
        }
        return out;
    }
}
