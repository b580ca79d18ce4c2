// The settings of diffusers' AutoencoderKL that SD 1.x/2.x use (the KL-f8 autoencoder of Rombach et al.
// 2022, "High-Resolution Image Synthesis with Latent Diffusion Models"), read from vae/config.json or
// made by sd(). scalingFactor (0.18215 for SD 1.x/2.x) is for the pipeline, which multiplies encoded
// latents by it and divides latents by it before decoding; the VAE itself does not apply it.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.ConfigValues;
import dev.ldm4j.weights.WeightException;

import java.util.List;
import java.util.Map;

public record VaeConfig(
        int inChannels,
        int outChannels,
        List<Integer> blockOutChannels,
        int layersPerBlock,
        int latentChannels,
        int normNumGroups,
        int sampleSize,
        double scalingFactor,
        boolean useQuantConv,
        boolean usePostQuantConv,
        boolean midBlockAddAttention) {

    public static final double SD_SCALING_FACTOR = 0.18215;

    public VaeConfig {
        blockOutChannels = List.copyOf(blockOutChannels);
        if (blockOutChannels.isEmpty()) {
            throw new WeightException("vae config: block_out_channels is empty");
        }
        for (int i = 0; i < blockOutChannels.size(); i++) {
            int c = blockOutChannels.get(i);
            if (c <= 0 || c % normNumGroups != 0) {
                throw new WeightException("vae config: block_out_channels[" + i + "] = " + c + " is not a positive multiple of norm_num_groups " + normNumGroups);
            }
        }
    }

    /** The SD 1.x/2.x autoencoder (KL-f8, 4 latent channels, channels 128-256-512-512). */
    public static VaeConfig sd() {
        return new VaeConfig(3, 3, List.of(128, 256, 512, 512), 2, 4, 32, 512, SD_SCALING_FACTOR, true, true, true);
    }

    /** The settings in a diffusers vae/config.json (parsed by dev.ldm4j.weights.Json). */
    public static VaeConfig fromJson(Map<String, Object> json) {
        ConfigValues c = new ConfigValues(json, "vae config");
        List<Integer> channels = c.integers("block_out_channels", -1, List.of(64));
        int n = channels.size();
        List<String> down = c.strings("down_block_types", List.copyOf(java.util.Collections.nCopies(n, "DownEncoderBlock2D")));
        List<String> up = c.strings("up_block_types", List.copyOf(java.util.Collections.nCopies(n, "UpDecoderBlock2D")));
        if (down.size() != n || down.stream().anyMatch(t -> !t.equals("DownEncoderBlock2D"))) {
            throw new WeightException("vae config: down_block_types must be " + n + " x DownEncoderBlock2D, got " + down);
        }
        if (up.size() != n || up.stream().anyMatch(t -> !t.equals("UpDecoderBlock2D"))) {
            throw new WeightException("vae config: up_block_types must be " + n + " x UpDecoderBlock2D, got " + up);
        }
        c.requireOneOf("act_fn", "silu");
        c.requireAbsent("shift_factor");
        c.requireAbsent("latents_mean");
        c.requireAbsent("latents_std");
        return new VaeConfig(
                c.integer("in_channels", 3),
                c.integer("out_channels", 3),
                channels,
                c.integer("layers_per_block", 1),
                c.integer("latent_channels", 4),
                c.integer("norm_num_groups", 32),
                c.integer("sample_size", 32),
                c.number("scaling_factor", SD_SCALING_FACTOR),
                c.bool("use_quant_conv", true),
                c.bool("use_post_quant_conv", true),
                c.bool("mid_block_add_attention", true));
    }

    /** Spatial downsampling factor from image to latent: 2^(blocks - 1) (8 for SD). */
    public int downFactor() {
        return 1 << (blockOutChannels.size() - 1);
    }
}
