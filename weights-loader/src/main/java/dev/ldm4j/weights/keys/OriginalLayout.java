// The one place where the original single-file layout (CompVis latent-diffusion / A1111 checkpoints)
// is converted to diffusers names, component by component. The facts it encodes, read off the
// checkpoints themselves:
//
// U-Net (model.diffusion_model.*): input_blocks.0.0 is conv_in; then per level, layersPerBlock
// entries input_blocks.K.0 (a resnet) [+ input_blocks.K.1 (a spatial transformer) on attention
// levels], and after every level but the last one input_blocks.K.0.op (the strided downsampling
// conv). middle_block.0/1/2 are resnet, transformer, resnet. output_blocks hold layersPerBlock+1
// entries per level, deepest level first: output_blocks.K.0 (resnet) [+ .1 (transformer)], and on the
// last entry of every level but the top one an upsampler conv at the next free index. Resnets name
// their layers by Sequential index (in_layers.0 = norm1, in_layers.2 = conv1, emb_layers.1 =
// time_emb_proj, out_layers.0 = norm2, out_layers.3 = conv2, skip_connection = conv_shortcut).
//
// VAE (first_stage_model.*): encoder.down.N.block.M, decoder.up.N.block.M where the decoder's up
// list is stored in resolution order (up.0 is the full-resolution level), i.e. reversed relative to
// diffusers' up_blocks; mid.block_1/attn_1/block_2; the mid attention is a 1x1-conv attention (q, k,
// v, proj_out [C, C, 1, 1]) that diffusers holds as linear layers [C, C].
//
// Text encoder: SD 1.x stores a transformers CLIPTextModel under cond_stage_model.transformer.
// (text_model.* or, in older files, without that level); SD 2.x stores OpenCLIP under
// cond_stage_model.model. with q, k, v stacked in attn.in_proj_weight [3C, C] and one more block
// than is used (SD 2.x conditions on the penultimate block's output followed by ln_final).
package dev.ldm4j.weights.keys;

import dev.ldm4j.weights.WeightSource;

import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class OriginalLayout {
    public static final String UNET_PREFIX = "model.diffusion_model.";
    public static final String VAE_PREFIX = "first_stage_model.";
    public static final String CLIP_PREFIX = "cond_stage_model.transformer.";
    public static final String OPENCLIP_PREFIX = "cond_stage_model.model.";

    /** Buffers of the latent-diffusion training wrapper (the DDPM noise schedule), not model weights. */
    public static final Set<String> DDPM_BUFFERS = Set.of("betas", "alphas_cumprod", "alphas_cumprod_prev",
            "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod",
            "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
            "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2", "logvar");

    private static final Pattern BLOCK = Pattern.compile("(input_blocks|output_blocks)\\.(\\d+)\\.(\\d+)\\.(.+)");
    private static final Pattern MIDDLE = Pattern.compile("middle_block\\.(\\d+)\\.(.+)");
    private static final Pattern VAE_LEVEL = Pattern.compile("(encoder\\.down|decoder\\.up)\\.(\\d+)\\.(block\\.(\\d+)|downsample|upsample)\\.(.+)");
    private static final Pattern VAE_MID = Pattern.compile("(encoder|decoder)\\.mid\\.(block_1|block_2|attn_1)\\.(.+)");
    private static final Pattern RESBLOCK = Pattern.compile("transformer\\.resblocks\\.(\\d+)\\.(.+)");

    private OriginalLayout() {
    }

    /** True when the source holds an original-layout U-Net. */
    public static boolean isOriginal(WeightSource source) {
        return source.names().stream().anyMatch(n -> n.startsWith(UNET_PREFIX));
    }

    /** True when the name is a known non-weight entry of original checkpoints (schedule buffers, EMA copy). */
    public static boolean isKnownExtra(String name) {
        return DDPM_BUFFERS.contains(name) || name.startsWith("model_ema.");
    }

    /** The U-Net under diffusers names. */
    public static MappedWeightSource unet(WeightSource original, UNetStructure s) {
        MappedWeightSource.Builder b = MappedWeightSource.builder(original, "unet");
        String[] inputBlocks = inputBlockTable(s);
        for (String name : original.names()) {
            if (!name.startsWith(UNET_PREFIX)) {
                continue;
            }
            String target = unetName(name.substring(UNET_PREFIX.length()), s, inputBlocks);
            if (target == null) {
                b.unmapped(name);
            } else {
                b.map(target, name, TensorView.IDENTITY);
            }
        }
        return b.build();
    }

    /**
     * For each input_blocks index K, the diffusers scope of its entry 0 ("down_blocks.l.resnets.j" or
     * "down_blocks.l.downsamplers.0"); index 0 is conv_in.
     */
    private static String[] inputBlockTable(UNetStructure s) {
        int count = 1 + s.levels() * s.layersPerBlock() + (s.levels() - 1);
        String[] table = new String[count];
        table[0] = "conv_in";
        int k = 1;
        for (int level = 0; level < s.levels(); level++) {
            for (int j = 0; j < s.layersPerBlock(); j++) {
                table[k++] = "down_blocks." + level + ".resnets." + j;
            }
            if (level < s.levels() - 1) {
                table[k++] = "down_blocks." + level + ".downsamplers.0";
            }
        }
        return table;
    }

    private static String unetName(String rest, UNetStructure s, String[] inputBlocks) {
        if (rest.startsWith("time_embed.0.")) {
            return "time_embedding.linear_1." + rest.substring("time_embed.0.".length());
        }
        if (rest.startsWith("time_embed.2.")) {
            return "time_embedding.linear_2." + rest.substring("time_embed.2.".length());
        }
        if (rest.startsWith("out.0.")) {
            return "conv_norm_out." + rest.substring("out.0.".length());
        }
        if (rest.startsWith("out.2.")) {
            return "conv_out." + rest.substring("out.2.".length());
        }
        Matcher m = MIDDLE.matcher(rest);
        if (m.matches()) {
            String tail = m.group(2);
            return switch (m.group(1)) {
                case "0" -> prefixed("mid_block.resnets.0.", resnetLayer(tail));
                case "1" -> "mid_block.attentions.0." + tail;
                case "2" -> prefixed("mid_block.resnets.1.", resnetLayer(tail));
                default -> null;
            };
        }
        m = BLOCK.matcher(rest);
        if (!m.matches()) {
            return null;
        }
        int k = Integer.parseInt(m.group(2));
        int sub = Integer.parseInt(m.group(3));
        String tail = m.group(4);
        if (m.group(1).equals("input_blocks")) {
            if (k >= inputBlocks.length) {
                return null;
            }
            String scope = inputBlocks[k];
            if (k == 0) {
                return sub == 0 ? "conv_in." + tail : null;
            }
            if (scope.endsWith("downsamplers.0")) {
                return sub == 0 && tail.startsWith("op.") ? scope + ".conv." + tail.substring(3) : null;
            }
            int level = Integer.parseInt(scope.split("\\.")[1]);
            if (sub == 0) {
                return prefixed(scope + ".", resnetLayer(tail));
            }
            if (sub == 1 && s.downHasAttention(level)) {
                return scope.replace(".resnets.", ".attentions.") + "." + tail;
            }
            return null;
        }
        int perLevel = s.layersPerBlock() + 1;
        int u = k / perLevel;
        int j = k % perLevel;
        if (u >= s.levels()) {
            return null;
        }
        String level = "up_blocks." + u + ".";
        boolean attention = s.upHasAttention(u);
        boolean upsampler = j == perLevel - 1 && u < s.levels() - 1;
        if (sub == 0) {
            return prefixed(level + "resnets." + j + ".", resnetLayer(tail));
        }
        if (sub == 1 && attention) {
            return level + "attentions." + j + "." + tail;
        }
        if (upsampler && sub == (attention ? 2 : 1) && tail.startsWith("conv.")) {
            return level + "upsamplers.0." + tail;
        }
        return null;
    }

    /** A resnet layer of the original ResBlock (Sequential indices) under its diffusers ResnetBlock2D name. */
    private static String resnetLayer(String tail) {
        String[][] renames = {
                {"in_layers.0.", "norm1."}, {"in_layers.2.", "conv1."}, {"emb_layers.1.", "time_emb_proj."},
                {"out_layers.0.", "norm2."}, {"out_layers.3.", "conv2."}, {"skip_connection.", "conv_shortcut."}};
        for (String[] r : renames) {
            if (tail.startsWith(r[0])) {
                return r[1] + tail.substring(r[0].length());
            }
        }
        return null;
    }

    private static String prefixed(String prefix, String tail) {
        return tail == null ? null : prefix + tail;
    }

    /** The VAE under diffusers names; levels is the length of block_out_channels. */
    public static MappedWeightSource vae(WeightSource original, int levels) {
        MappedWeightSource.Builder b = MappedWeightSource.builder(original, "vae");
        for (String name : original.names()) {
            if (!name.startsWith(VAE_PREFIX)) {
                continue;
            }
            String rest = name.substring(VAE_PREFIX.length());
            String target = vaeName(rest, levels);
            if (target == null) {
                b.unmapped(name);
            } else {
                boolean attentionProjection = rest.matches("(encoder|decoder)\\.mid\\.attn_1\\.(q|k|v|proj_out)\\.weight");
                b.map(target, name, attentionProjection ? TensorView.CONV_1X1_AS_LINEAR : TensorView.IDENTITY);
            }
        }
        return b.build();
    }

    private static String vaeName(String rest, int levels) {
        for (String same : new String[] {"quant_conv.", "post_quant_conv.", "encoder.conv_in.", "encoder.conv_out.",
                "decoder.conv_in.", "decoder.conv_out."}) {
            if (rest.startsWith(same)) {
                return rest;
            }
        }
        if (rest.startsWith("encoder.norm_out.")) {
            return "encoder.conv_norm_out." + rest.substring("encoder.norm_out.".length());
        }
        if (rest.startsWith("decoder.norm_out.")) {
            return "decoder.conv_norm_out." + rest.substring("decoder.norm_out.".length());
        }
        Matcher m = VAE_LEVEL.matcher(rest);
        if (m.matches()) {
            boolean encoder = m.group(1).equals("encoder.down");
            int n = Integer.parseInt(m.group(2));
            if (n >= levels) {
                return null;
            }
            String scope = encoder ? "encoder.down_blocks." + n : "decoder.up_blocks." + (levels - 1 - n);
            String tail = m.group(5);
            if (m.group(4) != null) {
                return prefixed(scope + ".resnets." + m.group(4) + ".", vaeResnetLayer(tail));
            }
            boolean rightKind = encoder ? m.group(3).equals("downsample") : m.group(3).equals("upsample");
            if (!rightKind || !tail.startsWith("conv.")) {
                return null;
            }
            return scope + (encoder ? ".downsamplers.0." : ".upsamplers.0.") + tail;
        }
        m = VAE_MID.matcher(rest);
        if (m.matches()) {
            String scope = m.group(1) + ".mid_block.";
            String tail = m.group(3);
            return switch (m.group(2)) {
                case "block_1" -> prefixed(scope + "resnets.0.", vaeResnetLayer(tail));
                case "block_2" -> prefixed(scope + "resnets.1.", vaeResnetLayer(tail));
                default -> prefixed(scope + "attentions.0.", vaeAttentionLayer(tail));
            };
        }
        return null;
    }

    private static String vaeResnetLayer(String tail) {
        if (tail.startsWith("nin_shortcut.")) {
            return "conv_shortcut." + tail.substring("nin_shortcut.".length());
        }
        return tail.matches("(norm1|conv1|norm2|conv2)\\.(weight|bias)") ? tail : null;
    }

    private static String vaeAttentionLayer(String tail) {
        String[][] renames = {{"norm.", "group_norm."}, {"q.", "to_q."}, {"k.", "to_k."}, {"v.", "to_v."}, {"proj_out.", "to_out.0."}};
        for (String[] r : renames) {
            if (tail.startsWith(r[0])) {
                return r[1] + tail.substring(r[0].length());
            }
        }
        return null;
    }

    /**
     * The text encoder under transformers CLIPTextModel names (text_model.*). For OpenCLIP, layers
     * is the number of transformer blocks used (the text-encoder config's num_hidden_layers); the
     * blocks after them, text_projection and logit_scale are reported as ignored.
     */
    public static MappedWeightSource textEncoder(WeightSource original, int layers) {
        MappedWeightSource.Builder b = MappedWeightSource.builder(original, "text_encoder");
        for (String name : original.names()) {
            if (name.startsWith(CLIP_PREFIX)) {
                String rest = name.substring(CLIP_PREFIX.length());
                if (!rest.startsWith("text_model.")) {
                    rest = "text_model." + rest;
                }
                if (rest.equals("text_model.embeddings.position_ids")) {
                    b.ignored(name);
                } else {
                    b.map(rest, name, TensorView.IDENTITY);
                }
            } else if (name.startsWith(OPENCLIP_PREFIX)) {
                openClip(b, name, name.substring(OPENCLIP_PREFIX.length()), layers);
            }
        }
        return b.build();
    }

    private static void openClip(MappedWeightSource.Builder b, String name, String rest, int layers) {
        switch (rest) {
            case "token_embedding.weight" -> b.map("text_model.embeddings.token_embedding.weight", name, TensorView.IDENTITY);
            case "positional_embedding" -> b.map("text_model.embeddings.position_embedding.weight", name, TensorView.IDENTITY);
            case "ln_final.weight" -> b.map("text_model.final_layer_norm.weight", name, TensorView.IDENTITY);
            case "ln_final.bias" -> b.map("text_model.final_layer_norm.bias", name, TensorView.IDENTITY);
            case "text_projection", "logit_scale" -> b.ignored(name);
            default -> {
                Matcher m = RESBLOCK.matcher(rest);
                if (!m.matches()) {
                    b.unmapped(name);
                    return;
                }
                int block = Integer.parseInt(m.group(1));
                if (block >= layers) {
                    b.ignored(name);
                    return;
                }
                String layer = "text_model.encoder.layers." + block + ".";
                String tail = m.group(2);
                switch (tail) {
                    case "attn.in_proj_weight", "attn.in_proj_bias" -> {
                        String kind = tail.endsWith("weight") ? "weight" : "bias";
                        String[] parts = {"q_proj", "k_proj", "v_proj"};
                        for (int i = 0; i < 3; i++) {
                            b.map(layer + "self_attn." + parts[i] + "." + kind, name, TensorView.rows(i, 3));
                        }
                    }
                    default -> {
                        String target = openClipLayer(tail);
                        if (target == null) {
                            b.unmapped(name);
                        } else {
                            b.map(layer + target, name, TensorView.IDENTITY);
                        }
                    }
                }
            }
        }
    }

    private static String openClipLayer(String tail) {
        String[][] renames = {{"ln_1.", "layer_norm1."}, {"ln_2.", "layer_norm2."}, {"attn.out_proj.", "self_attn.out_proj."},
                {"mlp.c_fc.", "mlp.fc1."}, {"mlp.c_proj.", "mlp.fc2."}};
        for (String[] r : renames) {
            if (tail.startsWith(r[0])) {
                return r[1] + tail.substring(r[0].length());
            }
        }
        return null;
    }

    /** Presents a transformers CLIP text model saved without the text_model. level (transformers 5) under text_model.* names. */
    public static WeightSource withTextModelPrefix(WeightSource clip) {
        if (clip.names().stream().anyMatch(n -> n.startsWith("text_model."))) {
            return clip;
        }
        MappedWeightSource.Builder b = MappedWeightSource.builder(clip, "text_encoder");
        for (String name : clip.names()) {
            if (name.equals("embeddings.position_ids")) {
                b.ignored(name);
            } else {
                b.map("text_model." + name, name, TensorView.IDENTITY);
            }
        }
        return b.build();
    }
}
