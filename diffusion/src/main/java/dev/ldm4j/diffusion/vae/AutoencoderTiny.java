// diffusers' AutoencoderTiny: TAESD (Ollin Boer Bohan, github.com/madebyollin/taesd), a small autoencoder
// distilled to stand in for SD's VAE at a fraction of its cost (plain 3x3 convolutions and ReLU, no
// normalization or attention). encode maps an image in [-1, 1] to latents in SD's scaled latent space
// (EncoderTiny), decode the reverse (DecoderTiny); no distribution is sampled on the way. A folder may
// hold the decoder alone, as the preview-only TAESD files do: then hasEncoder() is false.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.Arrays;

public final class AutoencoderTiny implements Autoencoder {
    private final AutoencoderTinyConfig config;
    private final Backend backend;
    private final EncoderTiny encoder;
    private final DecoderTiny decoder;

    /** Builds the model from weights in diffusers naming (encoder.layers.N..., decoder.layers.N...; the encoder optional). */
    public AutoencoderTiny(Params p, AutoencoderTinyConfig c) {
        this.config = c;
        this.backend = p.backend();
        this.encoder = p.child("encoder").child("layers").child(0).has("weight") ? new EncoderTiny(p.child("encoder"), c) : null;
        this.decoder = new DecoderTiny(p.child("decoder"), c);
    }

    public AutoencoderTinyConfig config() {
        return config;
    }

    @Override
    public Backend backend() {
        return backend;
    }

    @Override
    public int latentChannels() {
        return config.latentChannels();
    }

    @Override
    public int downFactor() {
        return config.downFactor();
    }

    @Override
    public double scalingFactor() {
        return config.scalingFactor();
    }

    @Override
    public String className() {
        return "AutoencoderTiny";
    }

    /** Whether the weights hold the encoder (image-to-image needs it; decoding does not). */
    public boolean hasEncoder() {
        return encoder != null;
    }

    /** image [B, 3, H, W] in [-1, 1], H and W positive multiples of downFactor() -> latents [B, latent, H/f, W/f]. */
    public Tensor encode(Tensor image) {
        if (encoder == null) {
            throw new IllegalStateException("this AutoencoderTiny has no encoder weights (encoder.layers.*): it can decode only");
        }
        int f = downFactor();
        if (image.rank() != 4 || image.dim(1) != config.inChannels() || image.dim(2) % f != 0 || image.dim(3) % f != 0
                || image.dim(2) == 0 || image.dim(3) == 0) {
            throw new IllegalArgumentException("autoencoder tiny: image must be [B, " + config.inChannels() + ", H, W] with H and W positive"
                    + " multiples of " + f + ", got " + Arrays.toString(image.shape()));
        }
        try (TensorScope scope = TensorScope.open()) {
            return scope.keep(encoder.forward(image));                      // [B, latent, H/f, W/f]
        }
    }

    @Override
    public Tensor decode(Tensor z) {
        if (z.rank() != 4 || z.dim(1) != config.latentChannels()) {
            throw new IllegalArgumentException("autoencoder tiny: latent must be [B, " + config.latentChannels() + ", h, w], got "
                    + Arrays.toString(z.shape()));
        }
        try (TensorScope scope = TensorScope.open()) {
            return scope.keep(decoder.forward(z));                          // [B, 3, f h, f w]
        }
    }
}
