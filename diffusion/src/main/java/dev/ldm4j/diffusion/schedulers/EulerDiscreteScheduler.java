// Euler's method on the probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma, Karras et al.
// 2022, Algorithm 2 (with s_churn = 0 by default, i.e. no added noise). Mirrors diffusers'
// EulerDiscreteScheduler ("Euler" in A1111).
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class EulerDiscreteScheduler extends KDiffusionScheduler {
    public static Map<String, Object> defaults() {
        Map<String, Object> d = NoiseSchedule.trainDefaults(0.0001, 0.02, "linear");
        d.put("prediction_type", "epsilon");
        d.put("interpolation_type", "linear");
        d.put("use_karras_sigmas", false);
        d.put("use_exponential_sigmas", false);
        d.put("use_beta_sigmas", false);
        d.put("sigma_min", null);
        d.put("sigma_max", null);
        d.put("timestep_spacing", "linspace");
        d.put("timestep_type", "discrete");
        d.put("steps_offset", 0L);
        d.put("rescale_betas_zero_snr", false);
        d.put("final_sigmas_type", "zero");
        return d;
    }

    private final String predictionType;
    private double sChurn = 0;
    private double sTmin = 0;
    private double sTmax = Double.POSITIVE_INFINITY;
    private double sNoise = 1;

    public EulerDiscreteScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("EulerDiscreteScheduler", defaults(), config));
    }

    public EulerDiscreteScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        config.getChoice("interpolation_type", "linear");
        config.getChoice("timestep_type", "discrete");
        config.getChoice("final_sigmas_type", "zero", "sigma_min");
        rejectUnsupportedSigmaOptions();
        if (config.getBoolean("rescale_betas_zero_snr")) {
            // Close to 0 without being 0, so the first sigma is finite (diffusers uses 2^-24).
            alphasCumprod[numTrainTimesteps - 1] = 0x1p-24f;
        }
    }

    /** The "churn" of Karras et al. 2022, Algorithm 2 (step() arguments in diffusers); noise is drawn only when gamma > 0. */
    public EulerDiscreteScheduler setChurn(double sChurn, double sTmin, double sTmax, double sNoise) {
        this.sChurn = sChurn;
        this.sTmin = sTmin;
        this.sTmax = sTmax;
        this.sNoise = sNoise;
        return this;
    }

    /** Whether the step adds churn noise (s_churn > 0): then it is no longer the probability-flow ODE. */
    boolean churns() {
        return sChurn > 0;
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        SigmaSchedule s = SigmaSchedule.of(config, alphasCumprod, steps, config.getBoolean("use_karras_sigmas"), false);
        timesteps = s.timesteps();
        sigmas = s.withFinal(finalSigma());
    }

    /** set_timesteps(timesteps=t): each sigma interpolated from the train sigmas, then the final one; not with Karras sigmas. */
    @Override
    public void setCustomTimesteps(double[] t) {
        CustomSchedule.checkTimesteps(this, t, numTrainTimesteps, false);
        double[] t32 = new double[t.length];
        for (int i = 0; i < t.length; i++) {
            t32[i] = (float) t[i];
        }
        numInferenceSteps = t.length;
        timesteps = t32;
        sigmas = SigmaSchedule.atTimesteps(t32, alphasCumprod).withFinal(finalSigma());
    }

    /** set_timesteps(sigmas=s): the sigmas as given (float32, the last one included), each step's timestep from its sigma. */
    @Override
    public void setCustomSigmas(double[] s) {
        float[] logTrain = NoiseSchedule.logOf(NoiseSchedule.trainSigmas(alphasCumprod));
        numInferenceSteps = s.length - 1;
        sigmas = new double[s.length];
        timesteps = new double[s.length - 1];
        for (int i = 0; i < s.length; i++) {
            sigmas[i] = (float) s[i];
            if (i < timesteps.length) {
                timesteps[i] = (float) NoiseSchedule.sigmaToT(sigmas[i], logTrain);
            }
        }
    }

    private double finalSigma() {
        return config.getString("final_sigmas_type").equals("zero") ? 0.0 : NoiseSchedule.trainSigmas(alphasCumprod)[0];
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        double sigma = sigmas[stepIndex];
        double gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (sigmas.length - 1), Math.sqrt(2) - 1) : 0;
        double sigmaHat = sigma * (gamma + 1);
        float[] x = sample;
        if (gamma > 0) {
            float[] z = randn(noise, shape, sample.length);
            double amp = Math.sqrt(sigmaHat * sigmaHat - sigma * sigma) * sNoise;
            x = new float[sample.length];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (sample[i] + z[i] * amp);
            }
        }
        double dt = sigmas[stepIndex + 1] - sigmaHat;
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            double m = modelOutput[i];
            double xi = x[i];
            // D(x; sigma): eps uses the churned sigma_hat, v-prediction the schedule's sigma (as diffusers).
            double denoised = KDiffusion.denoised(predictionType, xi, m, predictionType.equals("v_prediction") ? sigma : sigmaHat);
            double derivative = (xi - denoised) / sigmaHat;
            out[i] = (float) (xi + derivative * dt);
        }
        return out;
    }
}
