// Latent Consistency Models (Luo et al. 2023, arXiv:2310.04378): multistep consistency sampling,
// Algorithm 1. Each step maps x_t to a clean estimate with the consistency parameterisation
// f(x, t) = c_skip(t) x + c_out(t) x0_pred (the boundary condition of Song et al. 2023, sec. 3),
// then re-noises it to the next timestep (one noise draw per step, none after the last).
// Mirrors diffusers' LCMScheduler.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class LCMScheduler extends BaseScheduler {
    public static Map<String, Object> defaults() {
        Map<String, Object> d = NoiseSchedule.trainDefaults(0.00085, 0.012, "scaled_linear");
        d.put("original_inference_steps", 50L);
        d.put("clip_sample", false);
        d.put("clip_sample_range", 1.0);
        d.put("set_alpha_to_one", true);
        d.put("steps_offset", 0L);
        d.put("prediction_type", "epsilon");
        d.put("thresholding", false);
        d.put("dynamic_thresholding_ratio", 0.995);
        d.put("sample_max_value", 1.0);
        d.put("timestep_spacing", "leading");
        d.put("timestep_scaling", 10.0);
        d.put("rescale_betas_zero_snr", false);
        return d;
    }

    private final String predictionType;
    private final double finalAlphaCumprod;
    private float[] lastDenoised;

    /** sigma_data of the consistency boundary scalings (LCM eq. 9; diffusers' get_scalings_for_boundary_condition_discrete). */
    public static final double SIGMA_DATA = 0.5;

    /**
     * c_skip(t) = sigma_data^2 / ((s t)^2 + sigma_data^2), s = timestep_scaling (10 in LCM): 1 at t = 0, so the
     * consistency function f(x, t) = c_skip(t) x + c_out(t) x0_pred returns x unchanged there (Song et al. 2023, eq. 3).
     */
    public static double cSkip(double t, double timestepScaling) {
        double scaled = t * timestepScaling;
        return SIGMA_DATA * SIGMA_DATA / (scaled * scaled + SIGMA_DATA * SIGMA_DATA);
    }

    /** c_out(t) = s t / sqrt((s t)^2 + sigma_data^2): 0 at t = 0, near 1 once s t is far above sigma_data. */
    public static double cOut(double t, double timestepScaling) {
        double scaled = t * timestepScaling;
        return scaled / Math.sqrt(scaled * scaled + SIGMA_DATA * SIGMA_DATA);
    }

    public LCMScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("LCMScheduler", defaults(), config));
    }

    public LCMScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        rejectThresholding();
        finalAlphaCumprod = finalAlphaCumprod();
    }

    @Override
    public void setTimesteps(int steps) {
        setTimesteps(steps, 1.0);
    }

    /**
     * The schedule of LCM's image-to-image pipeline: `steps` timesteps taken from the first
     * strength * original_inference_steps points of the distillation schedule (diffusers'
     * set_timesteps(..., strength=...)); the run starts at the first of them, with no further slicing.
     */
    public void setTimesteps(int steps, double strength) {
        checkSteps(steps);
        timesteps = consistencyTimesteps(config, steps, strength, name());
        lastDenoised = null;
    }

    /**
     * The LCM/TCD schedule: the distillation schedule t_j = j * (N / original_steps) - 1
     * (j = 1..floor(original_steps * strength)), from which `steps` timesteps are taken at evenly
     * spaced indices, largest first.
     */
    static double[] consistencyTimesteps(SchedulerConfig c, int steps, double strength, String name) {
        int n = c.getInt("num_train_timesteps");
        int original = c.getInt("original_inference_steps");
        if (original < 1 || original > n) {
            throw new IllegalArgumentException(name + ": original_inference_steps must be between 1 and " + n + ", got " + original);
        }
        if (steps > original) {
            throw new IllegalArgumentException(name + ": the number of steps (" + steps + ") cannot exceed original_inference_steps (" + original + ")");
        }
        if (!(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException(name + ": strength must be in (0, 1], got " + strength);
        }
        int count = (int) (original * strength);
        if (count < steps) {
            throw new IllegalArgumentException(name + ": original_inference_steps x strength (" + original + " x " + strength
                    + ") leaves " + count + " timesteps, fewer than the " + steps + " steps asked for");
        }
        int k = n / original;
        double[] t = new double[steps];
        for (int i = 0; i < steps; i++) {
            // floor(linspace(0, count, steps, endpoint=False)) indexes the reversed distillation schedule.
            int idx = (int) Math.floor(NoiseSchedule.npLinspace(0, count, steps + 1)[i]);
            t[i] = (double) (count - idx) * k - 1;
        }
        return t;
    }

    /** The clean estimate f(x, t) of the last step (what the LCM pipeline decodes after its final step). */
    public float[] lastDenoised() {
        return lastDenoised == null ? null : lastDenoised.clone();
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        double t = timesteps[stepIndex];
        double prevT = stepIndex + 1 < timesteps.length ? timesteps[stepIndex + 1] : t;
        double aT = alphaBar(t);
        double aPrev = prevT >= 0 ? alphaBar(prevT) : finalAlphaCumprod;
        double bT = 1 - aT;
        double cSkip = cSkip(t, config.getDouble("timestep_scaling"));
        double cOut = cOut(t, config.getDouble("timestep_scaling"));
        boolean clip = config.getBoolean("clip_sample");
        double range = config.getDouble("clip_sample_range");
        boolean last = stepIndex == timesteps.length - 1;
        float[] z = last ? null : randn(noise, shape, sample.length);

        float[] denoised = new float[sample.length];
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            double x = sample[i];
            double m = modelOutput[i];
            double x0 = predictedX0(predictionType, x, m, aT, bT, clip, range);
            double d = cOut * x0 + cSkip * x;
            denoised[i] = (float) d;
            out[i] = last ? (float) d : (float) (Math.sqrt(aPrev) * d + Math.sqrt(1 - aPrev) * z[i]);
        }
        lastDenoised = denoised;
        return out;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int stepIndex) {
        checkStep(stepIndex, original);
        return addNoiseAlphaBar(original, noise, timesteps[stepIndex]);
    }
}
