// Heun's second-order method on the probability-flow ODE, Karras et al. 2022, Algorithm 1: an Euler
// predictor to sigma_{i+1}, then the average of the two slopes. Each step takes two model
// evaluations, listed as two entries of timesteps(). Mirrors diffusers' HeunDiscreteScheduler.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Arrays;
import java.util.Map;

public final class HeunDiscreteScheduler extends KDiffusionScheduler {
    public static Map<String, Object> defaults() {
        Map<String, Object> d = KDiffusion.commonDefaults(0.00085, 0.012);
        d.put("clip_sample", false);
        d.put("clip_sample_range", 1.0);
        return d;
    }

    private final String predictionType;
    // State between the predictor (first order) and corrector (second order) evaluations.
    private double[] prevDerivative;
    private float[] firstSample;
    private double dt;

    public HeunDiscreteScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("HeunDiscreteScheduler", defaults(), config));
    }

    public HeunDiscreteScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        rejectUnsupportedSigmaOptions();
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        SigmaSchedule s = SigmaSchedule.of(config, alphasCumprod, steps, config.getBoolean("use_karras_sigmas"), false);
        // [s0, s1, s1, ..., s_{n-1}, s_{n-1}, 0]
        double[] inter = KDiffusion.interleaveSigmas(KDiffusion.float32(s.withFinal(0.0)));
        sigmas = Arrays.copyOf(inter, inter.length - 2);
        double[] t = s.timesteps();
        timesteps = new double[2 * t.length - 1];
        timesteps[0] = t[0];
        for (int i = 1; i < t.length; i++) {
            timesteps[2 * i - 1] = t[i];
            timesteps[2 * i] = t[i];
        }
        prevDerivative = null;
        firstSample = null;
    }

    /**
     * The schedule through these noise levels, one more than the steps, each entry's timestep from its sigma: a
     * restart pass of RestartScheduler. A last level above 0 gets its corrector evaluation too (Karras et al. 2022,
     * Algorithm 1 skips it only for a step that ends at sigma = 0, as setTimesteps's last step does).
     */
    void setSigmaLevels(double[] levels) {
        float[] logTrain = NoiseSchedule.logOf(NoiseSchedule.trainSigmas(alphasCumprod));
        float[] s = KDiffusion.float32(levels);
        int n = s.length - 1;
        boolean lastCorrected = s[n] > 0;
        int entries = lastCorrected ? 2 * n : 2 * n - 1;
        sigmas = Arrays.copyOf(KDiffusion.interleaveSigmas(s), entries + 1);         // [r0, r1, r1, ..., r_n(, r_n)]
        timesteps = new double[entries];                                               // [t0, t1, t1, ..., t_{n-1}, t_{n-1}(, t_n)]
        for (int e = 0; e < entries; e++) {
            timesteps[e] = (float) NoiseSchedule.sigmaToT(sigmas[e], logTrain);
        }
        numInferenceSteps = n;
        prevDerivative = null;
        firstSample = null;
    }

    @Override
    public int order() {
        return 2;
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        boolean firstOrder = firstSample == null;
        double sigma = firstOrder ? sigmas[stepIndex] : sigmas[stepIndex - 1];
        double sigmaNext = firstOrder ? sigmas[stepIndex + 1] : sigmas[stepIndex];
        double sigmaInput = firstOrder ? sigma : sigmaNext;
        boolean clip = config.getBoolean("clip_sample");
        double range = config.getDouble("clip_sample_range");
        float[] out = new float[sample.length];
        if (firstOrder) {
            double[] d = new double[sample.length];
            dt = sigmaNext - sigma;
            for (int i = 0; i < out.length; i++) {
                double x0 = KDiffusion.denoised(predictionType, sample[i], modelOutput[i], sigmaInput);
                if (clip) {
                    x0 = Math.max(-range, Math.min(range, x0));
                }
                d[i] = (sample[i] - x0) / sigma;
                out[i] = (float) (sample[i] + d[i] * dt);
            }
            prevDerivative = d;
            firstSample = sample;
        } else {
            for (int i = 0; i < out.length; i++) {
                double x0 = KDiffusion.denoised(predictionType, sample[i], modelOutput[i], sigmaInput);
                if (clip) {
                    x0 = Math.max(-range, Math.min(range, x0));
                }
                double d = ((sample[i] - x0) / sigmaNext + prevDerivative[i]) / 2;
                out[i] = (float) (firstSample[i] + d * dt);
            }
            prevDerivative = null;
            firstSample = null;
        }
        return out;
    }
}
