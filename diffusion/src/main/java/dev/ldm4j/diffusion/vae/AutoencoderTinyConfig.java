// The settings of diffusers' AutoencoderTiny (TAESD, Ollin Boer Bohan's tiny distilled autoencoder for
// SD's latent space), read from its config.json or made by taesd(). Both halves are plain stacks at one
// width: the encoder's stride-2 convolutions and the decoder's convolutions after each upsampling keep
// the channel count, so each list of block_out_channels holds one value repeated.
// scalingFactor is for the pipeline, as with AutoencoderKL: TAESD's latents already live in SD's scaled
// latent space, so it is 1.0. latentMagnitude and latentShift are diffusers' scale_latents /
// unscale_latents, which map latents to [0, 1] for storing them as 8-bit images; no pipeline applies
// them, and neither does this project (they are kept for what a caller may want).
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.ConfigValues;
import dev.ldm4j.weights.WeightException;

import java.util.List;
import java.util.Map;

public record AutoencoderTinyConfig(
        int inChannels,
        int outChannels,
        List<Integer> encoderBlockOutChannels,
        List<Integer> decoderBlockOutChannels,
        List<Integer> numEncoderBlocks,
        List<Integer> numDecoderBlocks,
        int latentChannels,
        double latentMagnitude,
        double latentShift,
        double scalingFactor) {

    public AutoencoderTinyConfig {
        encoderBlockOutChannels = List.copyOf(encoderBlockOutChannels);
        decoderBlockOutChannels = List.copyOf(decoderBlockOutChannels);
        numEncoderBlocks = List.copyOf(numEncoderBlocks);
        numDecoderBlocks = List.copyOf(numDecoderBlocks);
        oneWidth("encoder_block_out_channels", encoderBlockOutChannels);
        oneWidth("decoder_block_out_channels", decoderBlockOutChannels);
        sameLength("num_encoder_blocks", numEncoderBlocks, "encoder_block_out_channels", encoderBlockOutChannels);
        sameLength("num_decoder_blocks", numDecoderBlocks, "decoder_block_out_channels", decoderBlockOutChannels);
        if (inChannels <= 0 || outChannels <= 0 || latentChannels <= 0) {
            throw new WeightException("autoencoder tiny config: in_channels, out_channels and latent_channels must be positive, got "
                    + inChannels + ", " + outChannels + ", " + latentChannels);
        }
        if (encoderBlockOutChannels.size() != decoderBlockOutChannels.size()) {
            throw new WeightException("autoencoder tiny config: the encoder has " + encoderBlockOutChannels.size() + " levels and the decoder "
                    + decoderBlockOutChannels.size() + "; they must scale by the same factor");
        }
        if (!(scalingFactor > 0)) {
            throw new WeightException("autoencoder tiny config: scaling_factor must be positive, got " + scalingFactor);
        }
    }

    /** The released TAESD (madebyollin/taesd): width 64, encoder blocks 1-3-3-3, decoder 3-3-3-1, 4 latent channels. */
    public static AutoencoderTinyConfig taesd() {
        return new AutoencoderTinyConfig(3, 3, List.of(64, 64, 64, 64), List.of(64, 64, 64, 64), List.of(1, 3, 3, 3), List.of(3, 3, 3, 1),
                4, 3.0, 0.5, 1.0);
    }

    /** The settings in a diffusers AutoencoderTiny config.json (parsed by dev.ldm4j.weights.Json). */
    public static AutoencoderTinyConfig fromJson(Map<String, Object> json) {
        ConfigValues c = new ConfigValues(json, "autoencoder tiny config");
        c.requireOneOf("act_fn", "relu");
        c.requireOneOf("upsample_fn", "nearest");
        c.requireOneOf("upsampling_scaling_factor", 2);
        c.requireOneOf("shift_factor", 0);                 // nonzero in the SD3 / FLUX variants, whose latents SD pipelines do not use
        c.requireOneOf("use_midblock_gn", false);          // the group-norm mid block of newer variants
        List<Integer> widths = List.of(64, 64, 64, 64);
        return new AutoencoderTinyConfig(
                c.integer("in_channels", 3),
                c.integer("out_channels", 3),
                c.integers("encoder_block_out_channels", -1, widths),
                c.integers("decoder_block_out_channels", -1, widths),
                c.integers("num_encoder_blocks", -1, List.of(1, 3, 3, 3)),
                c.integers("num_decoder_blocks", -1, List.of(3, 3, 3, 1)),
                c.integer("latent_channels", 4),
                c.number("latent_magnitude", 3.0),
                c.number("latent_shift", 0.5),
                c.number("scaling_factor", 1.0));
    }

    /** Spatial factor from image to latent: the encoder halves the resolution at every level but the first (8 for TAESD). */
    public int downFactor() {
        return 1 << (encoderBlockOutChannels.size() - 1);
    }

    private static void oneWidth(String key, List<Integer> channels) {
        if (channels.isEmpty() || channels.get(0) <= 0 || channels.stream().anyMatch(c -> !c.equals(channels.get(0)))) {
            throw new WeightException("autoencoder tiny config: " + key + " must be one positive width repeated (diffusers' tiny"
                    + " encoder and decoder keep the channel count between levels), got " + channels);
        }
    }

    private static void sameLength(String key, List<Integer> blocks, String channelsKey, List<Integer> channels) {
        if (blocks.size() != channels.size() || blocks.stream().anyMatch(n -> n < 0)) {
            throw new WeightException("autoencoder tiny config: " + key + " must give one block count (0 or more) per entry of "
                    + channelsKey + " (" + channels.size() + "), got " + blocks);
        }
    }
}
