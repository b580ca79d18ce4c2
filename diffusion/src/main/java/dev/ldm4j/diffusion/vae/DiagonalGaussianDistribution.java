// diffusers' DiagonalGaussianDistribution: the VAE posterior q(z | x) = N(mean, exp(logvar)), with
// logvar already clamped to [-30, 20] as diffusers does. Kingma & Welling 2014 ("Auto-Encoding
// Variational Bayes"), Sec. 2.4: a sample is mean + exp(logvar / 2) * noise.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;

public record DiagonalGaussianDistribution(Tensor mean, Tensor logvar) {
    /** mean + std * noise, noise [B, latent, h, w] of standard normal draws (from the caller's generator). */
    public Tensor sample(Backend backend, Tensor noise) {
        Tensor logvarHost = backend.toHost(logvar);
        float[] lv = logvarHost.data();
        float[] std = new float[lv.length];
        for (int i = 0; i < lv.length; i++) {
            std[i] = (float) Math.exp(0.5 * lv[i]);
        }
        Tensor stdDev = backend.toDevice(Tensor.of(std, logvar.shape()));
        return backend.add(mean, backend.mul(stdDev, noise));
    }

    /** The mode of the posterior (its mean), what diffusers' latent_dist.mode() returns. */
    public Tensor mode() {
        return mean;
    }
}
