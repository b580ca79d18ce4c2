// What a Stable Diffusion pipeline needs of its first stage, whichever autoencoder it is: the latent
// channels and spatial factor (which fix the latent shape), the scaling factor between the autoencoder's
// latents and the sampler's, and the decoder. AutoencoderKL is SD's own (its encoder gives a posterior to
// sample); AutoencoderTiny is TAESD, the fast distilled stand-in (its encoder gives the latents directly).
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;

public sealed interface Autoencoder permits AutoencoderKL, AutoencoderTiny {
    /** Channels of a latent (4 for SD 1.x/2.x). */
    int latentChannels();

    /** Image side / latent side (8 for SD 1.x/2.x). */
    int downFactor();

    /** The sampler's latents are the autoencoder's times this (0.18215 for SD's VAE, 1.0 for TAESD). */
    double scalingFactor();

    /** The backend the weights live on and the autoencoder computes with. */
    Backend backend();

    /** z [B, latent, h, w] (the autoencoder's own latents, unscaled) -> image [B, 3, f h, f w], roughly in [-1, 1]. */
    Tensor decode(Tensor z);

    /** diffusers' class name of this autoencoder (AutoencoderKL, AutoencoderTiny), as its config.json's _class_name says. */
    String className();
}
