// DPM-Solver-2 in k-diffusion's form (sample_dpm_2, "DPM2" in A1111): a midpoint method that
// evaluates the model at the geometric mean of sigma_i and sigma_{i+1} (Lu et al. 2022,
// arXiv:2206.00927, Algorithm 1 with r = 1/2, in sigma). Two evaluations per step, the second at
// the interpolated timestep. Mirrors diffusers' KDPM2DiscreteScheduler.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Arrays;
import java.util.Map;

public final class KDPM2DiscreteScheduler extends KDiffusionScheduler {
    public static Map<String, Object> defaults() {
        return KDiffusion.commonDefaults(0.00085, 0.012);
    }

    private final String predictionType;
    private double[] sigmasInterpol;
    private float[] firstSample; // non-null between the two evaluations of a step

    public KDPM2DiscreteScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("KDPM2DiscreteScheduler", defaults(), config));
    }

    public KDPM2DiscreteScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "v_prediction");
        rejectUnsupportedSigmaOptions();
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        SigmaSchedule s = SigmaSchedule.of(config, alphasCumprod, steps, config.getBoolean("use_karras_sigmas"), true);
        float[] sig = KDiffusion.float32(s.withFinal(0.0));
        int n = sig.length;
        float[] interp = new float[n];
        // sigma_interpol_k = exp(lerp(log sigma_k, log sigma_{k-1}, 1/2)): the geometric mean of neighbours.
        for (int i = 0; i < n; i++) {
            float prev = sig[(i - 1 + n) % n];
            interp[i] = (float) Math.exp(KDiffusion.lerpHalf((float) Math.log(sig[i]), (float) Math.log(prev)));
        }
        sigmas = KDiffusion.interleaveSigmas(sig);
        sigmasInterpol = KDiffusion.interleaveSigmas(interp);
        // The midpoint between t_{i-1} and t_i is sigma_interpol_i (the mean of sigma_{i-1} and sigma_i).
        timesteps = KDiffusion.interleaveTimesteps(s.timesteps(), Arrays.copyOfRange(interp, 1, n), s.logTrainSigmas());
        firstSample = null;
    }

    @Override
    public int order() {
        return 2;
    }

    @Override
    public float[] scaleModelInput(float[] sample, int stepIndex) {
        checkStep(stepIndex, sample);
        double sigma = firstSample == null ? sigmas[stepIndex] : sigmasInterpol[stepIndex];
        return KDiffusion.scaleInput(sample, sigma);
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        float[] out = new float[sample.length];
        if (firstSample == null) {
            // Euler half-step (in log sigma) to the interpolated sigma.
            double sigma = sigmas[stepIndex];
            double sigmaMid = sigmasInterpol[stepIndex + 1];
            double dt = sigmaMid - sigma;
            for (int i = 0; i < out.length; i++) {
                double d = (sample[i] - KDiffusion.denoised(predictionType, sample[i], modelOutput[i], sigma)) / sigma;
                out[i] = (float) (sample[i] + d * dt);
            }
            firstSample = sample;
        } else {
            // Full step from the stored sample with the slope evaluated at the midpoint.
            double sigma = sigmas[stepIndex - 1];
            double sigmaMid = sigmasInterpol[stepIndex];
            double dt = sigmas[stepIndex] - sigma;
            for (int i = 0; i < out.length; i++) {
                double d = (sample[i] - KDiffusion.denoised(predictionType, sample[i], modelOutput[i], sigmaMid)) / sigmaMid;
                out[i] = (float) (firstSample[i] + d * dt);
            }
            firstSample = null;
        }
        return out;
    }
}
