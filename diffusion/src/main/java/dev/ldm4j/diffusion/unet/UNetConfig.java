// The settings of diffusers' UNet2DConditionModel that SD 1.x/2.x checkpoints use, read from the
// unet/config.json of a diffusers folder or made by the named factories for the published models.
// Per-block settings are lists with one entry per down block (the up blocks use them reversed).
//
// Head counts: diffusers' config calls the per-block head count "attention_head_dim" for SD 1.x/2.x
// (a naming mistake kept for compatibility); "num_attention_heads", when set, takes precedence. So
// SD 1.5's attention_head_dim 8 means 8 heads of 40, 80, 160, 160 channels, and SD 2.1's [5, 10, 20, 20]
// means heads of 64 channels. headsPerBlock() applies that rule.
//
// time_cond_proj_dim (null for SD 1.x/2.x): the width of the extra timestep condition that LCM-distilled
// U-Nets take, the embedded guidance scale (Luo et al. 2023, sec. 4.2); TimestepEmbedding then has a cond_proj.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.nn.ConfigValues;
import dev.ldm4j.weights.WeightException;

import java.util.List;
import java.util.Map;

public record UNetConfig(
        int sampleSize,
        int inChannels,
        int outChannels,
        boolean flipSinToCos,
        int freqShift,
        List<String> downBlockTypes,
        String midBlockType,
        List<String> upBlockTypes,
        List<Integer> blockOutChannels,
        List<Integer> layersPerBlock,
        int downsamplePadding,
        double midBlockScaleFactor,
        int normNumGroups,
        double normEps,
        int crossAttentionDim,
        List<Integer> transformerLayersPerBlock,
        List<Integer> attentionHeadDim,
        List<Integer> numAttentionHeads,
        boolean useLinearProjection,
        boolean upcastAttention,
        Integer timeCondProjDim) {

    /** SD 1.x head count: 8 heads in every block of the published models. */
    public static final int SD1_HEADS = 8;
    /** SD 2.x head size: 64 channels per head in the published models. */
    public static final int SD2_HEAD_SIZE = 64;

    public UNetConfig {
        downBlockTypes = List.copyOf(downBlockTypes);
        upBlockTypes = List.copyOf(upBlockTypes);
        blockOutChannels = List.copyOf(blockOutChannels);
        layersPerBlock = List.copyOf(layersPerBlock);
        transformerLayersPerBlock = List.copyOf(transformerLayersPerBlock);
        attentionHeadDim = List.copyOf(attentionHeadDim);
        numAttentionHeads = numAttentionHeads == null ? null : List.copyOf(numAttentionHeads);
        int n = blockOutChannels.size();
        if (timeCondProjDim != null && timeCondProjDim <= 0) {
            throw new WeightException("unet config: time_cond_proj_dim must be positive, got " + timeCondProjDim);
        }
        if (n == 0 || downBlockTypes.size() != n || upBlockTypes.size() != n || layersPerBlock.size() != n
                || transformerLayersPerBlock.size() != n || attentionHeadDim.size() != n
                || (numAttentionHeads != null && numAttentionHeads.size() != n)) {
            throw new WeightException("unet config: block_out_channels, down_block_types, up_block_types, layers_per_block, "
                    + "transformer_layers_per_block and attention_head_dim must have one entry per block (" + n + ")");
        }
        for (String t : downBlockTypes) {
            if (!t.equals("CrossAttnDownBlock2D") && !t.equals("DownBlock2D")) {
                throw new WeightException("unet config: unsupported down block type '" + t + "' (supported: CrossAttnDownBlock2D, DownBlock2D)");
            }
        }
        for (String t : upBlockTypes) {
            if (!t.equals("CrossAttnUpBlock2D") && !t.equals("UpBlock2D")) {
                throw new WeightException("unet config: unsupported up block type '" + t + "' (supported: CrossAttnUpBlock2D, UpBlock2D)");
            }
        }
        if (!midBlockType.equals("UNetMidBlock2DCrossAttn")) {
            throw new WeightException("unet config: unsupported mid_block_type '" + midBlockType + "' (supported: UNetMidBlock2DCrossAttn)");
        }
        for (int i = 0; i < n; i++) {
            int c = blockOutChannels.get(i);
            int heads = numAttentionHeads != null ? numAttentionHeads.get(i) : attentionHeadDim.get(i);
            if (c <= 0 || c % normNumGroups != 0) {
                throw new WeightException("unet config: block_out_channels[" + i + "] = " + c + " is not a positive multiple of norm_num_groups " + normNumGroups);
            }
            if (heads <= 0 || c % heads != 0) {
                throw new WeightException("unet config: block " + i + " has " + c + " channels, not divisible into " + heads + " attention heads");
            }
        }
    }

    /** A U-Net without the guidance-scale condition (time_cond_proj_dim null), as every SD 1.x/2.x release. */
    public UNetConfig(int sampleSize, int inChannels, int outChannels, boolean flipSinToCos, int freqShift,
                      List<String> downBlockTypes, String midBlockType, List<String> upBlockTypes,
                      List<Integer> blockOutChannels, List<Integer> layersPerBlock, int downsamplePadding,
                      double midBlockScaleFactor, int normNumGroups, double normEps, int crossAttentionDim,
                      List<Integer> transformerLayersPerBlock, List<Integer> attentionHeadDim,
                      List<Integer> numAttentionHeads, boolean useLinearProjection, boolean upcastAttention) {
        this(sampleSize, inChannels, outChannels, flipSinToCos, freqShift, downBlockTypes, midBlockType, upBlockTypes,
                blockOutChannels, layersPerBlock, downsamplePadding, midBlockScaleFactor, normNumGroups, normEps,
                crossAttentionDim, transformerLayersPerBlock, attentionHeadDim, numAttentionHeads, useLinearProjection,
                upcastAttention, null);
    }

    /** Stable Diffusion 1.x (1.4, 1.5): CLIP ViT-L/14 context of 768, 8 heads, conv proj_in/proj_out. */
    public static UNetConfig sd15() {
        return new UNetConfig(64, 4, 4, true, 0,
                List.of("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                "UNetMidBlock2DCrossAttn",
                List.of("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                List.of(320, 640, 1280, 1280), List.of(2, 2, 2, 2), 1, 1.0, 32, 1e-5, 768,
                List.of(1, 1, 1, 1), List.of(8, 8, 8, 8), null, false, false, null);
    }

    /**
     * Stable Diffusion 2.1 (768-v): OpenCLIP ViT-H/14 context of 1024, heads of 64 channels, linear
     * proj_in/proj_out, 96x96 latents. SD 2.x base (512) models differ only in sampleSize 64.
     */
    public static UNetConfig sd21() {
        return new UNetConfig(96, 4, 4, true, 0,
                List.of("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                "UNetMidBlock2DCrossAttn",
                List.of("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                List.of(320, 640, 1280, 1280), List.of(2, 2, 2, 2), 1, 1.0, 32, 1e-5, 1024,
                List.of(1, 1, 1, 1), List.of(5, 10, 20, 20), null, true, false, null);
    }

    /** The settings in a diffusers unet/config.json (parsed by dev.ldm4j.weights.Json). */
    public static UNetConfig fromJson(Map<String, Object> json) {
        ConfigValues c = new ConfigValues(json, "unet config");
        List<Integer> channels = c.integers("block_out_channels", -1, List.of(320, 640, 1280, 1280));
        int n = channels.size();
        for (String key : List.of("class_embed_type", "addition_embed_type", "encoder_hid_dim",
                "num_class_embeds", "time_embedding_dim", "time_embedding_act_fn", "timestep_post_act",
                "reverse_transformer_layers_per_block", "mid_block_only_cross_attention", "cross_attention_norm")) {
            c.requireAbsent(key);
        }
        c.requireOneOf("act_fn", "silu");
        c.requireOneOf("time_embedding_type", "positional");
        c.requireOneOf("resnet_time_scale_shift", "default");
        c.requireOneOf("resnet_skip_time_act", false);
        c.requireOneOf("resnet_out_scale_factor", 1.0);
        c.requireOneOf("center_input_sample", false);
        c.requireOneOf("only_cross_attention", false);
        c.requireOneOf("dual_cross_attention", false);
        c.requireOneOf("class_embeddings_concat", false);
        c.requireOneOf("conv_in_kernel", 3L);
        c.requireOneOf("conv_out_kernel", 3L);
        c.requireOneOf("attention_type", "default");
        List<Integer> headDim = c.integers("attention_head_dim", n, nCopies(n, 8));
        List<Integer> numHeads = c.has("num_attention_heads") ? c.integers("num_attention_heads", n, null) : null;
        if (c.has("cross_attention_dim") && json.get("cross_attention_dim") instanceof List) {
            List<Integer> dims = c.integers("cross_attention_dim", n, null);
            if (dims.stream().distinct().count() != 1) {
                throw new WeightException("unet config: per-block cross_attention_dim " + dims + " is not supported");
            }
        }
        return new UNetConfig(
                c.integer("sample_size", 64),
                c.integer("in_channels", 4),
                c.integer("out_channels", 4),
                c.bool("flip_sin_to_cos", true),
                c.integer("freq_shift", 0),
                c.strings("down_block_types", sd15().downBlockTypes()),
                c.string("mid_block_type", "UNetMidBlock2DCrossAttn"),
                c.strings("up_block_types", sd15().upBlockTypes()),
                channels,
                c.integers("layers_per_block", n, nCopies(n, 2)),
                c.integer("downsample_padding", 1),
                c.number("mid_block_scale_factor", 1.0),
                c.integer("norm_num_groups", 32),
                c.number("norm_eps", 1e-5),
                c.integers("cross_attention_dim", n, nCopies(n, 1280)).get(0),
                c.integers("transformer_layers_per_block", n, nCopies(n, 1)),
                headDim,
                numHeads,
                c.bool("use_linear_projection", false),
                c.bool("upcast_attention", false),
                c.has("time_cond_proj_dim") ? c.integer("time_cond_proj_dim", 0) : null);
    }

    /** in_channels of an inpainting U-Net: the noisy latents (4), the mask at latent size (1), the masked image's latents (4). */
    public static final int INPAINTING_IN_CHANNELS = 9;

    /** Whether this is an inpainting U-Net (StableDiffusionInpaintPipeline's 9-channel input). */
    public boolean isInpainting() {
        return inChannels == INPAINTING_IN_CHANNELS;
    }

    /** Number of down (and up) blocks. */
    public int blocks() {
        return blockOutChannels.size();
    }

    /** Attention heads of down block i (num_attention_heads if set, else attention_head_dim; see the header). */
    public int headsPerBlock(int i) {
        return numAttentionHeads != null ? numAttentionHeads.get(i) : attentionHeadDim.get(i);
    }

    /** Whether the U-Net takes an embedded guidance scale (time_cond_proj_dim is set: an LCM-distilled U-Net). */
    public boolean hasGuidanceEmbedding() {
        return timeCondProjDim != null;
    }

    /** The same U-Net with (or, given null, without) the guidance-scale condition of that width. */
    public UNetConfig withTimeCondProjDim(Integer dim) {
        return new UNetConfig(sampleSize, inChannels, outChannels, flipSinToCos, freqShift, downBlockTypes, midBlockType,
                upBlockTypes, blockOutChannels, layersPerBlock, downsamplePadding, midBlockScaleFactor, normNumGroups,
                normEps, crossAttentionDim, transformerLayersPerBlock, attentionHeadDim, numAttentionHeads,
                useLinearProjection, upcastAttention, dim);
    }

    /** Channels of the time embedding: 4 * block_out_channels[0]. */
    public int timeEmbedDim() {
        return blockOutChannels.get(0) * 4;
    }

    /**
     * Head counts for SD-style settings inferred from a checkpoint without config: SD 2.x uses heads of
     * 64 channels (linear projections), SD 1.x 8 heads per block.
     */
    public static List<Integer> defaultHeads(List<Integer> blockOutChannels, boolean sd2) {
        return blockOutChannels.stream().map(c -> sd2 ? Math.max(1, c / SD2_HEAD_SIZE) : SD1_HEADS).toList();
    }

    public UNetConfig withSampleSize(int size) {
        return new UNetConfig(size, inChannels, outChannels, flipSinToCos, freqShift, downBlockTypes, midBlockType,
                upBlockTypes, blockOutChannels, layersPerBlock, downsamplePadding, midBlockScaleFactor, normNumGroups,
                normEps, crossAttentionDim, transformerLayersPerBlock, attentionHeadDim, numAttentionHeads,
                useLinearProjection, upcastAttention, timeCondProjDim);
    }

    public UNetConfig withInChannels(int in) {
        return new UNetConfig(sampleSize, in, outChannels, flipSinToCos, freqShift, downBlockTypes, midBlockType,
                upBlockTypes, blockOutChannels, layersPerBlock, downsamplePadding, midBlockScaleFactor, normNumGroups,
                normEps, crossAttentionDim, transformerLayersPerBlock, attentionHeadDim, numAttentionHeads,
                useLinearProjection, upcastAttention, timeCondProjDim);
    }

    private static List<Integer> nCopies(int n, int v) {
        return java.util.Collections.nCopies(n, v);
    }
}
