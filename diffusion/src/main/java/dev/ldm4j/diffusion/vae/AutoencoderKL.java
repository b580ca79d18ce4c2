// diffusers' AutoencoderKL (Rombach et al. 2022, Sec. 3, the KL-regularized f=8 autoencoder): encode an
// image to the posterior over latents (Encoder, quant_conv, split into mean and logvar), decode a latent
// to an image (post_quant_conv, Decoder). Latents here are unscaled: the pipeline multiplies by
// VaeConfig.scalingFactor() after encoding and divides before decoding.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Conv2d;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.Arrays;

public final class AutoencoderKL implements Autoencoder {
    private final VaeConfig config;
    private final Backend backend;
    private final Encoder encoder;
    private final Conv2d quantConv;
    private final Conv2d postQuantConv;
    private final Decoder decoder;

    /** Builds the model from weights in diffusers naming (the vae/ folder's tensors, no prefix). */
    public AutoencoderKL(Params p, VaeConfig c) {
        this.config = c;
        this.backend = p.backend();
        int latent = c.latentChannels();
        this.encoder = new Encoder(p.child("encoder"), c);
        this.quantConv = c.useQuantConv() ? new Conv2d(p.child("quant_conv"), 2 * latent, 2 * latent, 1, 1, 0) : null;
        this.postQuantConv = c.usePostQuantConv() ? new Conv2d(p.child("post_quant_conv"), latent, latent, 1, 1, 0) : null;
        this.decoder = new Decoder(p.child("decoder"), c);
    }

    public VaeConfig config() {
        return config;
    }

    /** The backend the weights live on and the VAE computes with. */
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
        return "AutoencoderKL";
    }

    /** image [B, 3, H, W] in [-1, 1], H and W multiples of 8 -> posterior over [B, latent, H/8, W/8]. */
    public DiagonalGaussianDistribution encode(Tensor image) {
        try (TensorScope scope = TensorScope.open()) {
            DiagonalGaussianDistribution d = posterior(moments(image));                 // the moments are freed here
            scope.keep(d.mean());
            scope.keep(d.logvar());
            return d;
        }
    }

    /** The encoder and quant_conv: image [B, 3, H, W] in [-1, 1] -> moments [B, 2 latent, H/8, W/8] (mean, then logvar unclamped). */
    public Tensor moments(Tensor image) {
        int m = config.downFactor();
        if (image.rank() != 4 || image.dim(1) != config.inChannels() || image.dim(2) % m != 0 || image.dim(3) % m != 0
                || image.dim(2) == 0 || image.dim(3) == 0) {
            throw new IllegalArgumentException("vae: image must be [B, " + config.inChannels() + ", H, W] with H and W positive multiples of "
                    + m + ", got " + Arrays.toString(image.shape()));
        }
        try (TensorScope scope = TensorScope.open()) {
            Tensor moments = encoder.forward(image);                                    // [B, 2 latent, h, w]
            if (quantConv == null) {
                return scope.keep(moments);
            }
            return scope.keep(quantConv.forward(moments));                              // [B, 2 latent, h, w]
        }
    }

    /** diffusers' DiagonalGaussianDistribution(moments): the first half of the channels the mean, the second the logvar clamped to [-30, 20]. */
    public DiagonalGaussianDistribution posterior(Tensor moments) {
        int latent = config.latentChannels();
        try (TensorScope scope = TensorScope.open()) {
            Tensor mean = scope.keep(backend.contiguous(moments.slice(1, 0, latent)));  // [B, latent, h, w]
            Tensor logvar = scope.keep(backend.clamp(moments.slice(1, latent, 2 * latent), -30f, 20f)); // [B, latent, h, w]
            return new DiagonalGaussianDistribution(mean, logvar);
        }
    }

    /** z [B, latent, h, w] (unscaled) -> image [B, 3, 8h, 8w], roughly in [-1, 1]. */
    @Override
    public Tensor decode(Tensor z) {
        if (z.rank() != 4 || z.dim(1) != config.latentChannels()) {
            throw new IllegalArgumentException("vae: latent must be [B, " + config.latentChannels() + ", h, w], got " + Arrays.toString(z.shape()));
        }
        try (TensorScope scope = TensorScope.open()) {
            Tensor h = postQuantConv != null ? postQuantConv.forward(z) : z;  // [B, latent, h, w]
            return scope.keep(decoder.forward(h));                             // [B, 3, 8h, 8w]
        }
    }
}
