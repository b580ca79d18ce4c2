// The frozen first stage of latent diffusion as training reads it: a batch of images encoded by the VAE to a
// posterior sample times its scaling_factor (Rombach et al. 2022, sec. 3), z = (mu + sigma eps) * scaling_factor,
// eps drawn from the step's generator. Shared by the U-Net's noise regression and the distillation objectives.
package dev.ldm4j.train;

import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.diffusion.vae.DiagonalGaussianDistribution;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.data.CaptionedImage;

import java.util.List;

public final class LatentEncoder {
    private final AutoencoderKL vae;
    private final Backend backend;
    private final float scalingFactor;

    /** The VAE of parts, read (never trained) on backend. */
    public LatentEncoder(UNetTraining.Parts parts, Backend backend) {
        VaeConfig vc = VaeConfig.fromJson(parts.vaeConfig());
        this.vae = new AutoencoderKL(Params.root(parts.vae(), backend), vc);
        this.backend = backend;
        this.scalingFactor = (float) vc.scalingFactor();
    }

    /** z = (mu + sigma eps) * scaling_factor of the batch's images, eps = gen.randn -> [B, C, h, w] on the host. */
    public Tensor encode(List<CaptionedImage> batch, TorchGenerator gen) {
        Tensor images = VaeTraining.stack(batch);                                       // [B, 3, R, R]
        DiagonalGaussianDistribution q = vae.encode(images);
        int[] ls = q.mean().shape();                                                     // [B, C, h, w]
        return Tensor.of(backend.scale(q.sample(backend, Tensor.of(gen.randn(ls), ls)), scalingFactor).toFloatArray(), ls);
    }
}
