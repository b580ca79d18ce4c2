// Ancestral DPM-Solver-2 (k-diffusion's sample_dpm_2_ancestral, "DPM2 a" in A1111): the DPM2
// midpoint step aimed at sigma_down, followed by fresh noise of size sigma_up (sigma_down^2 +
// sigma_up^2 = sigma_{i+1}^2). Noise is drawn once per step, at its second evaluation.
// Mirrors diffusers' KDPM2AncestralDiscreteScheduler.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class KDPM2AncestralDiscreteScheduler extends KDiffusionScheduler {
    public static Map<String, Object> defaults() {
        return KDiffusion.commonDefaults(0.00085, 0.012);
    }

    private final String predictionType;
    private double[] sigmasInterpol;
    private double[] sigmasUp;
    private double[] sigmasDown;
    private float[] firstSample;

    public KDPM2AncestralDiscreteScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("KDPM2AncestralDiscreteScheduler", defaults(), config));
    }

    public KDPM2AncestralDiscreteScheduler(SchedulerConfig config) {
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
        float[] up = new float[n];
        float[] down = new float[n];
        float[] interp = new float[n];
        for (int i = 0; i < n; i++) {
            float next = i + 1 < n ? sig[i + 1] : 0f;
            // k-diffusion get_ancestral_step (eta = 1), in float32 as diffusers computes it.
            up[i] = (float) Math.sqrt(next * next * (sig[i] * sig[i] - next * next) / (sig[i] * sig[i]));
            down[i] = i + 1 < n ? (float) Math.sqrt(next * next - up[i] * up[i]) : 0f;
        }
        for (int i = 0; i < n; i++) {
            // Geometric mean of sigma_i and sigma_down_i: the DPM2 midpoint towards sigma_down.
            interp[i] = i >= n - 2 ? 0f : (float) Math.exp(KDiffusion.lerpHalf((float) Math.log(sig[i]), (float) Math.log(down[i])));
        }
        sigmas = KDiffusion.interleaveSigmas(sig);
        sigmasInterpol = KDiffusion.interleaveSigmas(interp);
        sigmasUp = KDiffusion.interleaveSigmas(up);
        sigmasDown = KDiffusion.interleaveSigmas(down);
        // The midpoint between t_{i-1} and t_i is sigma_interpol_{i-1} (towards sigma_down_{i-1}).
        timesteps = KDiffusion.interleaveTimesteps(s.timesteps(), interp, s.logTrainSigmas());
        firstSample = null;
    }

    @Override
    public int order() {
        return 2;
    }

    @Override
    public float[] scaleModelInput(float[] sample, int stepIndex) {
        checkStep(stepIndex, sample);
        double sigma = firstSample == null ? sigmas[stepIndex] : sigmasInterpol[stepIndex - 1];
        return KDiffusion.scaleInput(sample, sigma);
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        float[] out = new float[sample.length];
        if (firstSample == null) {
            double sigma = sigmas[stepIndex];
            double sigmaMid = sigmasInterpol[stepIndex];
            double dt = sigmaMid - sigma;
            for (int i = 0; i < out.length; i++) {
                double d = (sample[i] - KDiffusion.denoised(predictionType, sample[i], modelOutput[i], sigma)) / sigma;
                out[i] = (float) (sample[i] + d * dt);
            }
            firstSample = sample;
        } else {
            double sigma = sigmas[stepIndex - 1];
            double sigmaMid = sigmasInterpol[stepIndex - 1];
            double sigmaUp = sigmasUp[stepIndex - 1];
            double dt = sigmasDown[stepIndex - 1] - sigma;
            float[] z = randn(noise, shape, sample.length);
            for (int i = 0; i < out.length; i++) {
                double d = (sample[i] - KDiffusion.denoised(predictionType, sample[i], modelOutput[i], sigmaMid)) / sigmaMid;
                out[i] = (float) (firstSample[i] + d * dt + z[i] * sigmaUp);
            }
            firstSample = null;
        }
        return out;
    }
}
