// Denoising Diffusion Implicit Models (Song, Meng & Ermon 2020): the non-Markovian sampler of eq. 12,
// deterministic for eta = 0 and DDPM-like for eta = 1. Mirrors diffusers' DDIMScheduler, including
// v-prediction, the three timestep spacings and zero-terminal-SNR rescaling (Lin et al. 2023).
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class DDIMScheduler extends BaseScheduler {
    public static Map<String, Object> defaults() {
        Map<String, Object> d = NoiseSchedule.trainDefaults(0.0001, 0.02, "linear");
        d.put("clip_sample", true);
        d.put("set_alpha_to_one", true);
        d.put("steps_offset", 0L);
        d.put("prediction_type", "epsilon");
        d.put("thresholding", false);
        d.put("dynamic_thresholding_ratio", 0.995);
        d.put("clip_sample_range", 1.0);
        d.put("sample_max_value", 1.0);
        d.put("timestep_spacing", "leading");
        d.put("rescale_betas_zero_snr", false);
        return d;
    }

    private final String predictionType;
    private final double finalAlphaCumprod;
    private final DynamicThresholding thresholding;
    private double eta;

    public DDIMScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("DDIMScheduler", defaults(), config));
    }

    public DDIMScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        thresholding = dynamicThresholding();
        // alpha_bar "before" the first train step: 1, or alpha_bar_0 as Stable Diffusion was trained.
        finalAlphaCumprod = finalAlphaCumprod();
    }

    /** The eta of DDIM eq. 16 (0 = deterministic DDIM, 1 = DDPM variance); diffusers passes it to step(). */
    public DDIMScheduler setEta(double eta) {
        if (!(eta >= 0)) {
            throw new IllegalArgumentException(name() + ": eta must be >= 0, got " + eta);
        }
        this.eta = eta;
        return this;
    }

    public double eta() {
        return eta;
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        timesteps = NoiseSchedule.spacedTimesteps(config, steps, true);
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        double t = timesteps[stepIndex];
        double prevT = t - numTrainTimesteps / numInferenceSteps;
        double aT = alphaBar(t);
        double aPrev = prevT >= 0 ? alphaBar(prevT) : finalAlphaCumprod;
        double bT = 1 - aT;

        // sigma_t of DDIM eq. 16: eta * sqrt((1 - a_prev) / (1 - a_t)) * sqrt(1 - a_t / a_prev)
        double variance = (1 - aPrev) / bT * (1 - aT / aPrev);
        double std = eta * Math.sqrt(variance);
        double dirCoeff = Math.sqrt(1 - aPrev - std * std);
        boolean clip = config.getBoolean("clip_sample");
        double range = config.getDouble("clip_sample_range");
        float[] z = eta > 0 ? randn(noise, shape, sample.length) : null;

        double[] x0 = new double[sample.length];
        double[] eps = new double[sample.length];
        for (int i = 0; i < x0.length; i++) {
            double x = sample[i];
            double m = modelOutput[i];
            switch (predictionType) {
                case "epsilon" -> {
                    x0[i] = (x - Math.sqrt(bT) * m) / Math.sqrt(aT);
                    eps[i] = m;
                }
                case "sample" -> {
                    x0[i] = m;
                    eps[i] = (x - Math.sqrt(aT) * m) / Math.sqrt(bT);
                }
                default -> { // v-prediction, Salimans & Ho 2022: v = sqrt(a) eps - sqrt(1 - a) x0
                    x0[i] = Math.sqrt(aT) * x - Math.sqrt(bT) * m;
                    eps[i] = Math.sqrt(aT) * m + Math.sqrt(bT) * x;
                }
            }
            if (clip && thresholding == null) {
                x0[i] = Math.max(-range, Math.min(range, x0[i]));
            }
        }
        if (thresholding != null) {
            thresholding.apply(x0, shape[0]);       // instead of clipping, as diffusers
        }
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            // DDIM eq. 12: x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma_t^2) eps + sigma_t z
            double prev = Math.sqrt(aPrev) * x0[i] + dirCoeff * eps[i];
            if (z != null) {
                prev += std * z[i];
            }
            out[i] = (float) prev;
        }
        return out;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int stepIndex) {
        checkStep(stepIndex, original);
        return addNoiseAlphaBar(original, noise, timesteps[stepIndex]);
    }
}
