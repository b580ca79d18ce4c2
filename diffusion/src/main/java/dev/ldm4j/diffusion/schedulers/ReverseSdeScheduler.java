// What the reverse-SDE samplers (EulerMaruyamaScheduler, PredictorCorrectorScheduler) share: the variance-exploding
// view in k-diffusion's sigma scale (Song et al. 2021, "Score-Based Generative Modeling through Stochastic
// Differential Equations", eq. 6 with f = 0, g(t)^2 = d[sigma^2]/dt), the schedule of noise levels (Euler's: the model's
// train sigmas at spaced timesteps, or Karras sigmas, then 0), the start x ~ N(0, sigma_0^2 I), the score from the
// U-Net's output (Score), and the predictor step.
//
// The predictor: with sigma^2 as the time variable the forward SDE is plain Brownian motion, dx = dw, and its reverse is
// dx = -s(x, sigma) d[sigma^2] + dw; one Euler-Maruyama step from sigma_i down to sigma_{i+1} is
//     x_{i+1} = x_i + (sigma_i^2 - sigma_{i+1}^2) s(x_i, sigma_i) + sqrt(sigma_i^2 - sigma_{i+1}^2) z,   z ~ N(0, I),
// Song et al.'s "reverse diffusion" predictor (Appendix E, eq. 47). (Karras et al. 2022, eq. 6, take sigma itself as
// the time: x + 2 sigma_i (sigma_i - sigma_{i+1}) s + sqrt(2 sigma_i (sigma_i - sigma_{i+1})) z, the same to first
// order in the step.) The last step, to sigma = 0, adds no noise: it lands on the denoised estimate D(x; sigma)
// (Tweedie), as score_sde's samplers end (denoise = True).
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

abstract class ReverseSdeScheduler extends KDiffusionScheduler {
    /** The schedule keys these samplers read from a model's scheduler config (those of EulerDiscreteScheduler's). */
    static Map<String, Object> scheduleDefaults() {
        Map<String, Object> d = NoiseSchedule.trainDefaults(0.0001, 0.02, "linear");
        d.put("prediction_type", "epsilon");
        d.put("use_karras_sigmas", false);
        d.put("sigma_min", null);
        d.put("sigma_max", null);
        d.put("timestep_spacing", "linspace");
        d.put("steps_offset", 0L);
        d.put("rescale_betas_zero_snr", false);
        return d;
    }

    protected final String predictionType;
    /** The noise levels sigma_0 > ... > sigma_{n-1} > 0 of the last setTimesteps(n), then 0. */
    protected double[] levels = new double[0];

    protected ReverseSdeScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        rejectUnsupportedSigmaOptions();
        if (config.getBoolean("rescale_betas_zero_snr")) {
            alphasCumprod[numTrainTimesteps - 1] = 0x1p-24f;     // a finite sigma_max, as Euler
        }
    }

    /** The levels of a run of this many steps, and their timesteps (as EulerDiscreteScheduler's). */
    protected SigmaSchedule schedule(int steps) {
        checkSteps(steps);
        SigmaSchedule s = SigmaSchedule.of(config, alphasCumprod, steps, config.getBoolean("use_karras_sigmas"), false);
        levels = s.withFinal(0);
        return s;
    }

    /** The variance-exploding start: x ~ N(0, sigma_0^2 I). */
    @Override
    public double initNoiseSigma() {
        return levels[0];
    }

    /** The score s(x, sigma) = (D(x; sigma) - x) / sigma^2 from the U-Net's output at x. */
    protected double[] score(float[] modelOutput, float[] x, double sigma) {
        return Score.fromModelOutput(predictionType, modelOutput, x, sigma);
    }

    /** One Euler-Maruyama step of the reverse VE SDE from sigma to next < sigma (the predictor); no noise when next is 0. */
    protected float[] reverseDiffusion(float[] x, double[] score, double sigma, double next, int[] shape, NoiseSource noise) {
        double dVariance = sigma * sigma - next * next;
        float[] z = next > 0 ? randn(noise, shape, x.length) : null;
        double amp = Math.sqrt(dVariance);
        float[] out = new float[x.length];
        for (int i = 0; i < out.length; i++) {
            double v = x[i] + dVariance * score[i];
            if (z != null) {
                v += amp * z[i];
            }
            out[i] = (float) v;
        }
        return out;
    }
}
