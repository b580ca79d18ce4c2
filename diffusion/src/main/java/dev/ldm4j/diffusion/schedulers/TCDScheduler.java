// Trajectory Consistency Distillation (Zheng et al. 2024, arXiv:2402.19159): strategic stochastic
// sampling (sec. 4.3, Algorithm 4). Each step predicts x0 and eps, jumps to the intermediate
// timestep s = floor((1 - gamma) t_prev) along the deterministic trajectory, then (for gamma > 0)
// re-noises forward to t_prev. gamma is diffusers' "eta" step argument, default 0.3. Mirrors
// diffusers' TCDScheduler.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class TCDScheduler extends BaseScheduler {
    public static Map<String, Object> defaults() {
        return LCMScheduler.defaults();
    }

    private final String predictionType;
    private final double finalAlphaCumprod;
    private double eta = 0.3;

    public TCDScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("TCDScheduler", defaults(), config));
    }

    public TCDScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        rejectThresholding();
        finalAlphaCumprod = finalAlphaCumprod();
    }

    /** gamma of TCD (diffusers' eta): 0 is deterministic, 1 re-noises fully each step. */
    public TCDScheduler setEta(double eta) {
        if (!(eta >= 0 && eta <= 1)) {
            throw new IllegalArgumentException(name() + ": eta (gamma) must be in [0, 1], got " + eta);
        }
        this.eta = eta;
        return this;
    }

    public double eta() {
        return eta;
    }

    @Override
    public void setTimesteps(int steps) {
        setTimesteps(steps, 1.0);
    }

    /** The image-to-image schedule at this strength, as LCMScheduler.setTimesteps(steps, strength). */
    public void setTimesteps(int steps, double strength) {
        checkSteps(steps);
        timesteps = LCMScheduler.consistencyTimesteps(config, steps, strength, name());
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        double t = timesteps[stepIndex];
        double prevT = stepIndex + 1 < timesteps.length ? timesteps[stepIndex + 1] : 0;
        // floor((1 - eta) * t_prev), computed in float32 as diffusers does (a float tensor times a long tensor).
        double s = Math.floor((float) (1 - eta) * (float) prevT);
        double aT = alphaBar(t);
        double bT = 1 - aT;
        double aPrev = prevT >= 0 ? alphaBar(prevT) : finalAlphaCumprod;
        double aS = alphaBar(s);
        double bS = 1 - aS;
        boolean renoise = eta > 0 && stepIndex != timesteps.length - 1;
        float[] z = renoise ? randn(noise, shape, sample.length) : null;
        double keep = Math.sqrt(aPrev / aS);
        double add = Math.sqrt(1 - aPrev / aS);

        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            double x = sample[i];
            double m = modelOutput[i];
            double x0;
            double e;
            switch (predictionType) {
                case "epsilon" -> {
                    x0 = (x - Math.sqrt(bT) * m) / Math.sqrt(aT);
                    e = m;
                }
                case "sample" -> {
                    x0 = m;
                    e = (x - Math.sqrt(aT) * x0) / Math.sqrt(bT);
                }
                default -> {
                    x0 = Math.sqrt(aT) * x - Math.sqrt(bT) * m;
                    e = Math.sqrt(aT) * m + Math.sqrt(bT) * x;
                }
            }
            double noised = Math.sqrt(aS) * x0 + Math.sqrt(bS) * e; // x_s on the trajectory
            out[i] = (float) (renoise ? keep * noised + add * z[i] : noised);
        }
        return out;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int stepIndex) {
        checkStep(stepIndex, original);
        return addNoiseAlphaBar(original, noise, timesteps[stepIndex]);
    }
}
