// The noise schedule of a model as the distillation objectives read it: z_t = alpha_t x + sigma_t eps with
// alpha_t = sqrt(abar_t), sigma_t = sqrt(1 - abar_t) (Kingma et al. 2021's notation, which Salimans & Ho 2022 and
// Luo et al. 2023 use), abar_t the model's own float32 alphas_cumprod (ForwardProcess, as the samplers build it).
// Timestep -1 is DDIM's end point past t = 0: abar = 1 with set_alpha_to_one, else abar_0 (diffusers'
// final_alpha_cumprod). Also the two linear maps from a U-Net's output m at (z, t) to its estimates of the clean
// sample and of the noise, per parameterisation (Salimans & Ho 2022, sec. 4 and appendix D):
//   epsilon:  x0 = (z - sigma m) / alpha     eps = m
//   v:        x0 = alpha z - sigma m         eps = sigma z + alpha m
//   sample:   x0 = m                         eps = (z - alpha m) / sigma
// each of the form a z + b m, and the deterministic DDIM step (Song et al. 2021, eq. 12 with eta = 0)
// z_s = alpha_s x0 + sigma_s eps, which is diffusers' DDIMScheduler.step at eta = 0.
package dev.ldm4j.train.distill;

import dev.ldm4j.diffusion.schedulers.ForwardProcess;

import java.util.Map;

public final class NoiseLevels {
    /** The coefficients of an estimate a z + b m, linear in the model output m. */
    public record Affine(double a, double b) {
    }

    private final ForwardProcess forward;
    private final double finalAlphaBar;

    private NoiseLevels(ForwardProcess forward, double finalAlphaBar) {
        this.forward = forward;
        this.finalAlphaBar = finalAlphaBar;
    }

    /** From a scheduler config (betas, rescale_betas_zero_snr, prediction_type, set_alpha_to_one: DDIM's default true). */
    public static NoiseLevels of(Map<String, Object> schedulerConfig) {
        ForwardProcess f = ForwardProcess.of(schedulerConfig);
        boolean one = !(schedulerConfig.get("set_alpha_to_one") instanceof Boolean b) || b;
        return new NoiseLevels(f, one ? 1.0 : f.alphaBar(0));
    }

    public ForwardProcess forward() {
        return forward;
    }

    public int numTrainTimesteps() {
        return forward.numTrainTimesteps();
    }

    /** "epsilon", "v_prediction" or "sample". */
    public String predictionType() {
        return forward.predictionType();
    }

    /** abar_t; t = -1 is the end point past t = 0. */
    public double alphaBar(int t) {
        return t == -1 ? finalAlphaBar : forward.alphaBar(t);
    }

    public double alpha(int t) {
        return Math.sqrt(alphaBar(t));
    }

    public double sigma(int t) {
        return Math.sqrt(1 - alphaBar(t));
    }

    /** SNR(t) = alpha_t^2 / sigma_t^2. */
    public double snr(int t) {
        double a = alphaBar(t);
        return a / (1 - a);
    }

    /**
     * The n DDIM timesteps of timestep_spacing "trailing" (diffusers: round(arange(T, 0, -T/n)) - 1, rounding half
     * to even as numpy does) followed by the end point -1: n + 1 entries, from T - 1 down. For n dividing T this
     * is exactly the grid DDIMScheduler steps through (it goes from t to t - T/n); the grid of 2n steps holds the
     * grid of n at its even positions.
     */
    public int[] trailingGrid(int n) {
        int t = numTrainTimesteps();
        if (n < 1 || n > t) {
            throw new IllegalArgumentException("a grid of " + n + " steps over " + t + " training timesteps");
        }
        int[] grid = new int[n + 1];
        for (int i = 0; i < n; i++) {
            grid[i] = (int) Math.rint(t - i * ((double) t / n)) - 1;
        }
        grid[n] = -1;
        return grid;
    }

    /** x0 = a z + b m for the model output m at timestep t. */
    public Affine x0(int t) {
        double alpha = alpha(t), sigma = sigma(t);
        return switch (predictionType()) {
            case "epsilon" -> new Affine(1 / alpha, -sigma / alpha);
            case "v_prediction" -> new Affine(alpha, -sigma);
            default -> new Affine(0, 1);
        };
    }

    /** eps = a z + b m for the model output m at timestep t. */
    public Affine eps(int t) {
        double alpha = alpha(t), sigma = sigma(t);
        return switch (predictionType()) {
            case "epsilon" -> new Affine(0, 1);
            case "v_prediction" -> new Affine(sigma, alpha);
            default -> new Affine(1 / sigma, -alpha / sigma);
        };
    }

    /**
     * One deterministic DDIM step per batch row: from z (rows of `per` values) at t[b], with the model output m,
     * to z_s = alpha_s x0 + sigma_s eps at s[b].
     */
    public float[] ddimStep(float[] z, float[] m, int[] t, int[] s) {
        int per = z.length / t.length;
        float[] out = new float[z.length];
        for (int b = 0; b < t.length; b++) {
            Affine x0 = x0(t[b]), eps = eps(t[b]);
            double as = alpha(s[b]), ss = sigma(s[b]);
            for (int i = b * per; i < (b + 1) * per; i++) {
                double x = x0.a() * z[i] + x0.b() * m[i];
                double e = eps.a() * z[i] + eps.b() * m[i];
                out[i] = (float) (as * x + ss * e);
            }
        }
        return out;
    }
}
