// What the names and shapes of an original-layout checkpoint reveal about its architecture: U-Net
// widths, resnets per level, which levels attend, context width, conv or linear proj_in, transformer
// depth; VAE widths; text-encoder kind, width, depth and MLP size. What they cannot reveal (head
// counts, prediction type) comes from a config folder or the standard values of a known model.
package dev.ldm4j.diffusion.model;

import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightSource;
import dev.ldm4j.weights.keys.OriginalLayout;
import dev.ldm4j.weights.keys.UNetStructure;

import java.util.ArrayList;
import java.util.List;

/**
 * @param unetChannels      block_out_channels
 * @param structure         resnets per level and attention levels (for the key mapping)
 * @param transformerDepth  transformer blocks per level (1 on levels without attention)
 * @param contextDim        width of the text context the cross attention reads
 * @param linearProjection  proj_in/proj_out are linear [C, C] rather than 1x1 convs
 * @param textBlocks        transformer blocks stored for the text encoder (OpenCLIP stores one unused)
 * @param openClip          the text encoder is in OpenCLIP layout (SD 2.x)
 */
public record SingleFileArchitecture(
        int inChannels,
        int outChannels,
        List<Integer> unetChannels,
        UNetStructure structure,
        List<Integer> transformerDepth,
        int contextDim,
        boolean linearProjection,
        List<Integer> vaeChannels,
        int vaeLayersPerBlock,
        int vaeInChannels,
        int vaeOutChannels,
        int latentChannels,
        boolean openClip,
        int textWidth,
        int textBlocks,
        int textIntermediate,
        int vocabSize,
        int maxPositions) {

    private static final String U = OriginalLayout.UNET_PREFIX;
    private static final String V = OriginalLayout.VAE_PREFIX;

    /** The family the text encoder and context width indicate. */
    public ModelFamily family() {
        return openClip ? ModelFamily.SD2 : ModelFamily.SD1;
    }

    /** Text-encoder layers SD uses: all stored for CLIP, all but the last for OpenCLIP. */
    public int textLayersUsed() {
        return openClip ? textBlocks - 1 : textBlocks;
    }

    /** Reads the architecture of an original-layout checkpoint; throws ModelException naming what is missing or unsupported. */
    public static SingleFileArchitecture infer(WeightSource src) {
        String origin = src.origin();
        for (String n : src.names()) {
            if (n.startsWith("conditioner.embedders") || n.startsWith(U + "label_emb")) {
                throw new ModelException(origin + ": an SDXL checkpoint (found '" + n + "'); SDXL is not supported yet");
            }
        }
        int[] convIn = shape(src, U + "input_blocks.0.0.weight", origin);
        if (convIn.length != 4) {
            throw new ModelException(origin + ": '" + U + "input_blocks.0.0.weight' has rank " + convIn.length + ", expected a conv kernel");
        }
        int in = convIn[1];
        if (in != 4 && in != UNetConfig.INPAINTING_IN_CHANNELS) {
            throw new ModelException(origin + ": U-Net with " + in + " input channels; only SD 1.x/2.x text-to-image (4) and inpainting (9) models are supported");
        }
        int out = shape(src, U + "out.2.weight", origin)[0];

        // Walk input_blocks: each index is a resnet (in_layers) or a downsampler (op).
        List<Integer> channels = new ArrayList<>();
        List<Boolean> attention = new ArrayList<>();
        List<Integer> depth = new ArrayList<>();
        int layersPerBlock = -1;
        int resnetsInLevel = 0;
        int contextDim = -1;
        boolean linear = false;
        for (int k = 1; ; k++) {
            String block = U + "input_blocks." + k + ".";
            if (src.info(block + "0.op.weight") != null) {
                if (layersPerBlock < 0) {
                    layersPerBlock = resnetsInLevel;
                } else if (layersPerBlock != resnetsInLevel) {
                    throw new ModelException(origin + ": levels with different numbers of resnets (" + layersPerBlock + " and "
                            + resnetsInLevel + ") are not supported");
                }
                resnetsInLevel = 0;
                continue;
            }
            TensorInfo conv2 = src.info(block + "0.out_layers.3.weight");
            if (conv2 == null) {
                break;
            }
            if (resnetsInLevel == 0) {
                channels.add(conv2.shape()[0]);
                TensorInfo projIn = src.info(block + "1.proj_in.weight");
                attention.add(projIn != null);
                int d = 0;
                if (projIn != null) {
                    linear = projIn.shape().length == 2;
                    while (src.info(block + "1.transformer_blocks." + d + ".attn1.to_q.weight") != null) {
                        d++;
                    }
                    if (contextDim < 0) {
                        contextDim = shape(src, block + "1.transformer_blocks.0.attn2.to_k.weight", origin)[1];
                    }
                }
                depth.add(Math.max(1, d));
            }
            resnetsInLevel++;
        }
        if (channels.isEmpty()) {
            throw new ModelException(origin + ": no U-Net resnets under '" + U + "input_blocks.1.0'");
        }
        if (layersPerBlock < 0) {
            layersPerBlock = resnetsInLevel;
        } else if (layersPerBlock != resnetsInLevel) {
            throw new ModelException(origin + ": levels with different numbers of resnets are not supported");
        }
        if (contextDim < 0) {
            throw new ModelException(origin + ": the U-Net has no cross attention; not a text-to-image SD model");
        }
        boolean[] att = new boolean[attention.size()];
        for (int i = 0; i < att.length; i++) {
            att[i] = attention.get(i);
        }

        // VAE: encoder.down.N.block.M; the last resnet of a level gives its width.
        List<Integer> vaeChannels = new ArrayList<>();
        int vaeLayers = 0;
        while (src.info(V + "encoder.down.0.block." + vaeLayers + ".conv1.weight") != null) {
            vaeLayers++;
        }
        if (vaeLayers == 0) {
            throw new ModelException(origin + ": no VAE (no '" + V + "encoder.down.0.block.0.conv1.weight'); a checkpoint without its VAE is not supported");
        }
        for (int n = 0; src.info(V + "encoder.down." + n + ".block.0.conv1.weight") != null; n++) {
            vaeChannels.add(shape(src, V + "encoder.down." + n + ".block." + (vaeLayers - 1) + ".conv2.weight", origin)[0]);
        }
        int vaeIn = shape(src, V + "encoder.conv_in.weight", origin)[1];
        int vaeOut = shape(src, V + "decoder.conv_out.weight", origin)[0];
        int latent = shape(src, V + "decoder.conv_in.weight", origin)[1];

        // Text encoder.
        boolean openClip = src.info(OriginalLayout.OPENCLIP_PREFIX + "token_embedding.weight") != null;
        int width, blocks, intermediate, vocab, positions;
        if (openClip) {
            String t = OriginalLayout.OPENCLIP_PREFIX;
            int[] tok = shape(src, t + "token_embedding.weight", origin);
            vocab = tok[0];
            width = tok[1];
            positions = shape(src, t + "positional_embedding", origin)[0];
            blocks = 0;
            while (src.info(t + "transformer.resblocks." + blocks + ".ln_1.weight") != null) {
                blocks++;
            }
            intermediate = blocks == 0 ? 0 : shape(src, t + "transformer.resblocks.0.mlp.c_fc.weight", origin)[0];
        } else {
            String t = OriginalLayout.CLIP_PREFIX + (src.info(OriginalLayout.CLIP_PREFIX + "text_model.embeddings.token_embedding.weight") != null ? "text_model." : "");
            int[] tok = shape(src, t + "embeddings.token_embedding.weight", origin);
            vocab = tok[0];
            width = tok[1];
            positions = shape(src, t + "embeddings.position_embedding.weight", origin)[0];
            blocks = 0;
            while (src.info(t + "encoder.layers." + blocks + ".layer_norm1.weight") != null) {
                blocks++;
            }
            intermediate = blocks == 0 ? 0 : shape(src, t + "encoder.layers.0.mlp.fc1.weight", origin)[0];
        }
        if (blocks < (openClip ? 3 : 2)) {
            throw new ModelException(origin + ": the text encoder has " + blocks + " transformer blocks; too few for an SD text encoder");
        }
        return new SingleFileArchitecture(in, out, List.copyOf(channels), new UNetStructure(layersPerBlock, att), List.copyOf(depth),
                contextDim, linear, List.copyOf(vaeChannels), vaeLayers, vaeIn, vaeOut, latent, openClip, width, blocks,
                intermediate, vocab, positions);
    }

    private static int[] shape(WeightSource src, String name, String origin) {
        TensorInfo i = src.info(name);
        if (i == null) {
            throw new ModelException(origin + ": missing tensor '" + name + "'");
        }
        return i.shape();
    }

    /** True for the published SD 1.x widths (U-Net 320-640-1280-1280, CLIP ViT-L/14 text encoder, KL-f8 VAE). */
    public boolean isStandardSd1() {
        return !openClip && standardUNetAndVae() && contextDim == 768 && textWidth == 768 && textBlocks == 12
                && textIntermediate == 3072 && !linearProjection;
    }

    /** True for the published SD 2.x widths (OpenCLIP ViT-H/14 text encoder with 24 stored blocks, context 1024). */
    public boolean isStandardSd2() {
        return openClip && standardUNetAndVae() && contextDim == 1024 && textWidth == 1024 && textBlocks == 24
                && textIntermediate == 4096;
    }

    private boolean standardUNetAndVae() {
        return unetChannels.equals(List.of(320, 640, 1280, 1280)) && structure.layersPerBlock() == 2
                && java.util.Arrays.equals(structure.downAttention(), new boolean[] {true, true, true, false})
                && transformerDepth.equals(List.of(1, 1, 1, 1)) && vaeChannels.equals(List.of(128, 256, 512, 512))
                && vaeLayersPerBlock == 2 && latentChannels == 4 && vocabSize == 49408 && maxPositions == 77;
    }
}
