// What every scheduler here shares: its resolved config, the float32 train schedule
// (betas, alphas_cumprod), the current inference schedule, and argument checks.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Arrays;

abstract class BaseScheduler implements Scheduler {
    protected final SchedulerConfig config;
    protected final int numTrainTimesteps;
    protected final float[] betas;
    protected float[] alphasCumprod;
    protected double[] timesteps = new double[0];
    protected double[] sigmas = new double[0];
    protected int numInferenceSteps;

    protected BaseScheduler(SchedulerConfig config) {
        this.config = config;
        this.numTrainTimesteps = config.getInt("num_train_timesteps");
        float[] b = NoiseSchedule.betas(config);
        if (b.length != numTrainTimesteps) {
            throw new IllegalArgumentException(name() + ": trained_betas has " + b.length + " values but num_train_timesteps is " + numTrainTimesteps);
        }
        if (config.has("rescale_betas_zero_snr") && config.getBoolean("rescale_betas_zero_snr")) {
            b = NoiseSchedule.rescaleZeroTerminalSnr(b);
        }
        this.betas = b;
        this.alphasCumprod = NoiseSchedule.alphasCumprod(b);
    }

    @Override
    public String name() {
        return config.className();
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    @Override
    public double[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public double[] sigmas() {
        return sigmas.clone();
    }

    @Override
    public double sigmaAt(int stepIndex) {
        if (stepIndex < 0 || stepIndex >= timesteps.length) {
            throw new IllegalArgumentException(name() + ": step index " + stepIndex + " is outside 0.." + (timesteps.length - 1));
        }
        return NoiseSchedule.sigmaAtTimestep(timesteps[stepIndex], alphasCumprod);
    }

    @Override
    public int order() {
        return 1;
    }

    /**
     * Unit-variance starting noise, as for every variance-preserving scheduler (DDPM, DDIM, PNDM,
     * DPM-Solver, DEIS, UniPC, LCM, TCD); the k-diffusion schedulers, which start at sigma_max, override it.
     */
    @Override
    public double initNoiseSigma() {
        return 1.0;
    }

    /** The sample enters the model unscaled in the variance-preserving schedulers; the k-diffusion ones override it. */
    @Override
    public float[] scaleModelInput(float[] sample, int stepIndex) {
        return sample;
    }

    protected void checkSteps(int steps) {
        if (steps < 1 || steps > numTrainTimesteps) {
            throw new IllegalArgumentException(name() + ": the number of inference steps must be between 1 and num_train_timesteps ("
                    + numTrainTimesteps + "), got " + steps);
        }
        this.numInferenceSteps = steps;
    }

    protected void checkStep(int stepIndex, float[] sample) {
        if (timesteps.length == 0) {
            throw new IllegalStateException(name() + ": call setTimesteps before stepping");
        }
        if (stepIndex < 0 || stepIndex >= timesteps.length) {
            throw new IllegalArgumentException(name() + ": step index " + stepIndex + " is outside 0.." + (timesteps.length - 1));
        }
        if (sample == null) {
            throw new IllegalArgumentException(name() + ": sample is null");
        }
    }

    protected void checkSame(float[] modelOutput, float[] sample) {
        if (modelOutput.length != sample.length) {
            throw new IllegalArgumentException(name() + ": model output has " + modelOutput.length + " values but the sample has " + sample.length);
        }
    }

    /** A noise draw of the sample's shape, checked against the sample's size. */
    protected float[] randn(NoiseSource noise, int[] shape, int size) {
        if (noise == null) {
            throw new IllegalArgumentException(name() + " draws noise at this step; pass a NoiseSource");
        }
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (n != size) {
            throw new IllegalArgumentException(name() + ": shape " + Arrays.toString(shape) + " holds " + n + " values but the sample has " + size);
        }
        float[] z = noise.randn(shape.clone());
        if (z.length != size) {
            throw new IllegalStateException(name() + ": the noise source returned " + z.length + " values for shape " + Arrays.toString(shape));
        }
        return z;
    }

    /** alpha_bar at an integer train timestep. */
    protected float alphaBar(double timestep) {
        int t = (int) timestep;
        if (t != timestep || t < 0 || t >= numTrainTimesteps) {
            throw new IllegalArgumentException(name() + ": timestep " + timestep + " is not an integer in 0.." + (numTrainTimesteps - 1));
        }
        return alphasCumprod[t];
    }

    /** alpha_bar "before" the first train step, where the last step lands: 1 if set_alpha_to_one, else alpha_bar_0. */
    protected double finalAlphaCumprod() {
        return config.getBoolean("set_alpha_to_one") ? 1.0 : alphasCumprod[0];
    }

    /**
     * The clean-sample estimate x0 from the model output m at x_t, alpha_bar_t = aT, bT = 1 - aT
     * (Ho et al. 2020 eq. 15 for eps; Salimans & Ho 2022 for v), clipped to [-range, range] when clip.
     */
    protected static double predictedX0(String predictionType, double x, double m, double aT, double bT, boolean clip, double range) {
        double x0 = switch (predictionType) {
            case "epsilon" -> (x - Math.sqrt(bT) * m) / Math.sqrt(aT);
            case "sample" -> m;
            default -> Math.sqrt(aT) * x - Math.sqrt(bT) * m;
        };
        return clip ? Math.max(-range, Math.min(range, x0)) : x0;
    }

    /** add_noise of the DDPM family: sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise (Ho et al. 2020, eq. 4). */
    protected float[] addNoiseAlphaBar(float[] original, float[] noise, double timestep) {
        checkSame(noise, original);
        float a = alphaBar(timestep);
        double sa = Math.sqrt(a);
        double sb = Math.sqrt(1.0 - a);
        float[] out = new float[original.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (sa * original[i] + sb * noise[i]);
        }
        return out;
    }

    /** add_noise of the k-diffusion family: x0 + sigma * noise. */
    protected float[] addNoiseSigma(float[] original, float[] noise, double sigma) {
        checkSame(noise, original);
        float[] out = new float[original.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (original[i] + sigma * noise[i]);
        }
        return out;
    }

    /** Rejects thresholding = true (dynamic thresholding, Saharia et al. 2022) in a scheduler that does not implement it here. */
    protected void rejectThresholding() {
        if (config.getBoolean("thresholding")) {
            throw new IllegalArgumentException(name() + ": thresholding = true is not implemented for this scheduler in ldm4j"
                    + " (it is for DDPM, DDIM, DPM-Solver, DEIS and UniPC)");
        }
    }

    /** The dynamic thresholding the config asks for (thresholding, dynamic_thresholding_ratio, sample_max_value), or null. */
    protected DynamicThresholding dynamicThresholding() {
        return DynamicThresholding.of(config);
    }

    /** solver_order of DPM-Solver and DEIS, checked to be 1, 2 or 3. */
    protected int solverOrder() {
        int order = config.getInt("solver_order");
        if (order < 1 || order > 3) {
            throw new IllegalArgumentException(name() + ": solver_order must be 1, 2 or 3, got " + order);
        }
        return order;
    }

    /** Rejects the sigma-schedule variants of newer diffusers that are not implemented here. */
    protected void rejectUnsupportedSigmaOptions() {
        for (String k : new String[] {"use_exponential_sigmas", "use_beta_sigmas", "use_flow_sigmas", "use_lu_lambdas", "use_dynamic_shifting"}) {
            if (config.has(k) && Boolean.TRUE.equals(config.asMap().get(k))) {
                throw new IllegalArgumentException(name() + ": " + k + " = true is not supported");
            }
        }
    }
}
