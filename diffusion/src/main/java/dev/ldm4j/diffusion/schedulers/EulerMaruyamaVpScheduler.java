// Euler-Maruyama on the reverse variance-preserving SDE (Song et al. 2021, "Score-Based Generative Modeling through
// Stochastic Differential Equations", eq. 11 and eq. 6). The forward VP SDE, the continuous limit of DDPM's chain, is
//     dx = -1/2 beta(t) x dt + sqrt(beta(t)) dw,
// its reverse (Anderson 1982)
//     dx = [-1/2 beta(t) x - beta(t) s(x, t)] dt + sqrt(beta(t)) dw-bar,      s = grad_x log p_t(x),
// run backwards in t. The state is the variance-preserving latent x_t = sqrt(abar) x0 + sqrt(1 - abar) eps that DDIM
// keeps and the U-Net is fed unscaled, so the start is x ~ N(0, I) and the end is x0 itself.
//
// beta(t), from the model's own discrete schedule: in train-step units, beta(t) is the piecewise-constant function equal
// to beta_j on (j - 1, j] (DDPM's beta_j is beta(t) dt over one train step; Song et al. Appendix B take
// beta(j / N) = N beta_j with dt = 1 / N, the same thing). One step from timestep t_i down to t_{i+1} integrates it:
//     B_i = integral_{t_{i+1}}^{t_i} beta = C(t_i) - C(t_{i+1}),   C(t) = sum_{j <= t} beta_j (linear between integers),
// with t_{n} = -1 (C = 0) after the last evaluation. The Euler-Maruyama step freezes x and the score at t_i:
//     x_{i+1} = x_i + (1/2 B_i) x_i + B_i s(x_i, t_i) + sqrt(B_i) z,     z ~ N(0, I),
// and the last step adds no noise (score_sde's denoise = True). The score in this scaling comes from the Score API:
// s(x_t) = sqrt(1 + sigma^2) s_VE(x_t sqrt(1 + sigma^2), sigma), which for epsilon is -eps / sqrt(1 - abar).
// The schedule of evaluations (timesteps, Karras sigmas) is Euler's, as for sde_euler. CLI name sde_euler_vp.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class EulerMaruyamaVpScheduler extends BaseScheduler {
    private final String predictionType;
    /** C(j) = beta_0 + ... + beta_j, the cumulative train betas (double). */
    private final double[] cumulativeBetas;

    public static Map<String, Object> defaults() {
        return ReverseSdeScheduler.scheduleDefaults();
    }

    public EulerMaruyamaVpScheduler(Map<String, Object> config) {
        super(new SchedulerConfig("EulerMaruyamaVpScheduler", defaults(), config));
        predictionType = this.config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        rejectUnsupportedSigmaOptions();
        if (this.config.getBoolean("rescale_betas_zero_snr")) {
            alphasCumprod[numTrainTimesteps - 1] = 0x1p-24f;     // a finite sigma at the first evaluation, as Euler
        }
        cumulativeBetas = new double[betas.length];
        double c = 0;
        for (int j = 0; j < betas.length; j++) {
            c += betas[j];
            cumulativeBetas[j] = c;
        }
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        SigmaSchedule s = SigmaSchedule.of(config, alphasCumprod, steps, config.getBoolean("use_karras_sigmas"), false);
        timesteps = s.timesteps();
        sigmas = s.withFinal(0);
    }

    /** The noise level of each evaluation in k-diffusion's scale, sigma = sqrt((1 - abar) / abar), then 0. */
    @Override
    public double sigmaAt(int stepIndex) {
        if (stepIndex < 0 || stepIndex >= timesteps.length) {
            throw new IllegalArgumentException(name() + ": step index " + stepIndex + " is outside 0.." + (timesteps.length - 1));
        }
        return sigmas[stepIndex];
    }

    /** C(t): the integral of beta from the start of train step 0 to timestep t (0 at t = -1; linear between integers). */
    double integratedBeta(double t) {
        if (t <= -1) {
            return 0;
        }
        int low = (int) Math.floor(t);
        double w = t - low;
        double below = low < 0 ? 0 : cumulativeBetas[Math.min(low, cumulativeBetas.length - 1)];
        if (w == 0 || low + 1 >= cumulativeBetas.length) {
            return below;
        }
        return below + w * betas[low + 1];
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        boolean last = stepIndex == timesteps.length - 1;
        double b = integratedBeta(timesteps[stepIndex]) - integratedBeta(last ? -1 : timesteps[stepIndex + 1]);   // B_i
        double[] s = Score.fromModelOutputVp(predictionType, modelOutput, sample, sigmas[stepIndex]);
        float[] z = last ? null : randn(noise, shape, sample.length);
        double amp = Math.sqrt(b);
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            double v = sample[i] + 0.5 * b * sample[i] + b * s[i];
            if (z != null) {
                v += amp * z[i];
            }
            out[i] = (float) v;
        }
        return out;
    }

    /** add_noise in the variance-preserving scaling at the evaluation's level: (x0 + sigma noise) / sqrt(1 + sigma^2). */
    @Override
    public float[] addNoise(float[] original, float[] noise, int stepIndex) {
        checkStep(stepIndex, original);
        checkSame(noise, original);
        double sigma = sigmas[stepIndex];
        double a = 1 / Math.sqrt(1 + sigma * sigma);
        float[] out = new float[original.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (a * (original[i] + sigma * noise[i]));
        }
        return out;
    }
}
