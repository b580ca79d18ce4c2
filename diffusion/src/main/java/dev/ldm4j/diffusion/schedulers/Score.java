// The score view of a denoiser (Song et al. 2021, "Score-Based Generative Modeling through Stochastic Differential
// Equations"): in k-diffusion's variance-exploding form x = x0 + sigma n, the model's noise prediction eps(x, sigma)
// gives the score of the noised data distribution p_sigma,
//     s(x, sigma) = grad_x log p_sigma(x) = (D(x; sigma) - x) / sigma^2 = -eps(x, sigma) / sigma,
// where D is the denoised estimate (Tweedie's formula, Efron 2011 / Miyasawa 1961). Training the U-Net by noise
// regression is denoising score matching (Vincent 2011): docs/SDE.md derives it. The SDE samplers here
// (EulerMaruyamaScheduler, PredictorCorrectorScheduler, EulerMaruyamaVpScheduler) are written in terms of it, and so can a user's own.
package dev.ldm4j.diffusion.schedulers;

public final class Score {
    private Score() {
    }

    /** A score function: grad_x log p_sigma(x) at noise level sigma (k-diffusion's scale), same layout as x. */
    @FunctionalInterface
    public interface Function {
        double[] at(float[] x, double sigma);
    }

    /** s = -eps / sigma: the score from a noise prediction at noise level sigma > 0. */
    public static double[] fromEpsilon(float[] eps, double sigma) {
        double[] s = new double[eps.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = -eps[i] / sigma;
        }
        return s;
    }

    /**
     * The score from a U-Net output of any prediction type (epsilon, v_prediction, sample) at the unscaled sample x:
     * (D(x; sigma) - x) / sigma^2, with D as the k-diffusion samplers compute it (KDiffusion.denoised). For epsilon
     * it is -eps / sigma exactly.
     */
    public static double[] fromModelOutput(String predictionType, float[] modelOutput, float[] x, double sigma) {
        if (predictionType.equals("epsilon")) {
            return fromEpsilon(modelOutput, sigma);
        }
        double[] s = new double[x.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = (KDiffusion.denoised(predictionType, x[i], modelOutput[i], sigma) - x[i]) / (sigma * sigma);
        }
        return s;
    }

    /**
     * The score in the variance-preserving scaling, grad log p_t(x_t) with x_t = x / sqrt(1 + sigma^2) the U-Net's input
     * (DDPM's x_t = sqrt(abar) x0 + sqrt(1 - abar) eps, abar = 1 / (1 + sigma^2)): by the chain rule
     * sqrt(1 + sigma^2) s(x_t sqrt(1 + sigma^2), sigma), which for epsilon is -eps / sqrt(1 - abar) (Song et al. 2021,
     * the VP SDE's score). Used by EulerMaruyamaVpScheduler.
     */
    public static double[] fromModelOutputVp(String predictionType, float[] modelOutput, float[] xt, double sigma) {
        double up = Math.sqrt(1 + sigma * sigma);
        float[] x = new float[xt.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (xt[i] * up);
        }
        double[] s = fromModelOutput(predictionType, modelOutput, x, sigma);
        for (int i = 0; i < s.length; i++) {
            s[i] *= up;
        }
        return s;
    }
}
