// The forward process of a model's noise schedule, for training: q(x_t | x_0) = N(sqrt(abar_t) x_0,
// (1 - abar_t) I) (Ho et al. 2020, eq. 4) with the same float32 alphas_cumprod the samplers use, built from
// the model's scheduler config as DDPMScheduler builds it. Plus the regression targets of the three
// parameterizations and the signal-to-noise ratio that min-SNR weighting reads.
package dev.ldm4j.diffusion.schedulers;

import java.util.Map;

public final class ForwardProcess {
    private final float[] alphasCumprod;
    private final String predictionType;

    private ForwardProcess(float[] alphasCumprod, String predictionType) {
        this.alphasCumprod = alphasCumprod;
        this.predictionType = predictionType;
    }

    /** From a scheduler config (scheduler_config.json's keys; missing ones take DDPMScheduler's defaults). */
    public static ForwardProcess of(Map<String, Object> schedulerConfig) {
        SchedulerConfig c = new SchedulerConfig("DDPMScheduler", DDPMScheduler.defaults(), schedulerConfig);
        float[] b = NoiseSchedule.betas(c);
        if (c.getBoolean("rescale_betas_zero_snr")) {
            b = NoiseSchedule.rescaleZeroTerminalSnr(b);
        }
        return new ForwardProcess(NoiseSchedule.alphasCumprod(b), c.getChoice("prediction_type", "epsilon", "sample", "v_prediction"));
    }

    public int numTrainTimesteps() {
        return alphasCumprod.length;
    }

    /** "epsilon", "v_prediction" or "sample". */
    public String predictionType() {
        return predictionType;
    }

    /** abar_t, as float32. */
    public float alphaBar(int t) {
        if (t < 0 || t >= alphasCumprod.length) {
            throw new IllegalArgumentException("timestep " + t + " is outside 0.." + (alphasCumprod.length - 1));
        }
        return alphasCumprod[t];
    }

    /** SNR(t) = abar_t / (1 - abar_t). */
    public double snr(int t) {
        double a = alphaBar(t);
        return a / (1 - a);
    }

    /**
     * diffusers' DDPMScheduler.add_noise for a batch [B, ...] with one timestep per row:
     * sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, the square roots taken in float32 as torch does.
     */
    public float[] addNoise(float[] x0, float[] noise, int[] timesteps) {
        return mix(x0, noise, timesteps, false);
    }

    /** The velocity v = sqrt(abar_t) noise - sqrt(1 - abar_t) x0 (Salimans & Ho 2022, sec. 4), as get_velocity. */
    public float[] velocity(float[] x0, float[] noise, int[] timesteps) {
        return mix(x0, noise, timesteps, true);
    }

    /** What the model learns to predict: the noise (epsilon), v (v_prediction) or x0 itself (sample). */
    public float[] target(float[] x0, float[] noise, int[] timesteps) {
        return switch (predictionType) {
            case "epsilon" -> noise.clone();
            case "v_prediction" -> velocity(x0, noise, timesteps);
            default -> x0.clone();
        };
    }

    private float[] mix(float[] x0, float[] noise, int[] timesteps, boolean velocity) {
        if (x0.length != noise.length || timesteps.length == 0 || x0.length % timesteps.length != 0) {
            throw new IllegalArgumentException("x0 (" + x0.length + "), noise (" + noise.length + ") and "
                    + timesteps.length + " timesteps do not form a batch");
        }
        int per = x0.length / timesteps.length;
        float[] out = new float[x0.length];
        for (int b = 0; b < timesteps.length; b++) {
            float a = alphaBar(timesteps[b]);
            float sa = (float) Math.sqrt(a);
            float s1 = (float) Math.sqrt(1f - a);
            for (int i = b * per; i < (b + 1) * per; i++) {
                out[i] = velocity ? sa * noise[i] - s1 * x0[i] : sa * x0[i] + s1 * noise[i];
            }
        }
        return out;
    }
}
