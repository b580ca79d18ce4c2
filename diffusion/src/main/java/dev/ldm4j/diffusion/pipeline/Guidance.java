// Classifier-free guidance (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance") over the U-Net's
// [uncond x B, cond x B] prediction, and guidance rescale (Lin et al. 2023, "Common Diffusion Noise Schedules
// and Sample Steps are Flawed", sec. 3.4, eqs. 15-16), as diffusers' rescale_noise_cfg: the guided prediction
// is scaled to the standard deviation of the conditional one, then mixed back with weight phi, per image:
//   x_cfg      = uncond + g (cond - uncond)
//   x_rescaled = x_cfg * std(cond) / std(x_cfg)                (std over C, H, W, with Bessel's correction, as torch.std)
//   x_final    = phi x_rescaled + (1 - phi) x_cfg
// Lin et al. use phi = 0.7 with zero-terminal-SNR models, whose guided predictions are otherwise over-exposed.
package dev.ldm4j.diffusion.pipeline;

public final class Guidance {
    private Guidance() {
    }

    /** uncond + g (cond - uncond) over the [uncond x B, cond x B] prediction: [B, ...]. */
    public static float[] classifierFree(float[] prediction, float guidance) {
        int half = prediction.length / 2;
        float[] out = new float[half];
        for (int j = 0; j < half; j++) {
            float uncond = prediction[j];
            float cond = prediction[half + j];
            out[j] = uncond + guidance * (cond - uncond);
        }
        return out;
    }

    /**
     * diffusers' rescale_noise_cfg(noise_cfg, noise_pred_text, guidance_rescale = phi), in place on guided [B, ...];
     * prediction is the [uncond x B, cond x B] prediction guided came from (its second half is noise_pred_text).
     */
    public static void rescale(float[] guided, float[] prediction, int batch, double phi) {
        int n = guided.length / batch;
        int condOffset = prediction.length / 2;
        for (int b = 0; b < batch; b++) {
            double stdCond = std(prediction, condOffset + b * n, n);
            double stdCfg = std(guided, b * n, n);
            double factor = phi * stdCond / stdCfg + (1 - phi);
            for (int i = b * n; i < (b + 1) * n; i++) {
                guided[i] = (float) (guided[i] * factor);
            }
        }
    }

    /** The standard deviation of x[from, from + n) with Bessel's correction (torch.std's default). */
    private static double std(float[] x, int from, int n) {
        double mean = 0;
        for (int i = from; i < from + n; i++) {
            mean += x[i];
        }
        mean /= n;
        double ss = 0;
        for (int i = from; i < from + n; i++) {
            double d = x[i] - mean;
            ss += d * d;
        }
        return Math.sqrt(ss / (n - 1));
    }
}
