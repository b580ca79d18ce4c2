// The KL-VAE objective of latent diffusion's first stage (Rombach et al. 2022, sec. 3.1 and appendix G; the
// perceptual and adversarial terms of the paper's recipe are left out): encode x to q(z|x) = N(mu, sigma^2),
// draw z = mu + sigma * eps (the reparameterization of Kingma & Welling 2014, eq. 10), decode, and minimise
// rec(decode(z), x) + kl_weight * KL(q(z|x) || N(0, I)).
package dev.ldm4j.train;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.diffusion.vae.DiagonalGaussianDistribution;
import dev.ldm4j.tensor.Tensor;

public final class VaeLoss {
    private VaeLoss() {
    }

    /** Per-pixel reconstruction term. */
    public enum Reconstruction { MSE, L1 }

    /** The loss and its two terms (each [1]), and the decoded image. */
    public record Result(Tensor loss, Tensor rec, Tensor kl, Tensor reconstruction) {
    }

    /** image [B, 3, H, W] in [-1, 1], eps [B, latent, H/f, W/f] standard normal draws. */
    public static Result compute(AutogradBackend b, AutoencoderKL vae, Tensor image, Tensor eps, float klWeight, Reconstruction rec) {
        DiagonalGaussianDistribution q = vae.encode(image);
        Tensor std = b.exp(b.scale(q.logvar(), 0.5f));                         // sigma = exp(logvar / 2)
        Tensor z = b.add(q.mean(), b.mul(std, eps));                            // [B, latent, h, w]
        Tensor decoded = vae.decode(z);                                         // [B, 3, H, W]
        Tensor recLoss = rec == Reconstruction.MSE ? Losses.mse(b, decoded, image) : Losses.l1(b, decoded, image);
        Tensor kl = Losses.kl(b, q.mean(), q.logvar());
        Tensor loss = b.add(recLoss, b.scale(kl, klWeight));
        return new Result(loss, recLoss, kl, decoded);
    }
}
