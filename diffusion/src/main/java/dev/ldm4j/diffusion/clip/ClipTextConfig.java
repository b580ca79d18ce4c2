// The settings of transformers' CLIPTextModel (text_encoder/config.json), with the published values
// of the two text encoders SD uses: OpenAI CLIP ViT-L/14 (SD 1.x) and OpenCLIP ViT-H/14 (SD 2.x, of
// whose 24 blocks SD uses 23). Defaults for absent keys are transformers' CLIPTextConfig defaults.
package dev.ldm4j.diffusion.clip;

import dev.ldm4j.nn.ConfigValues;
import dev.ldm4j.weights.WeightException;

import java.util.Map;

public record ClipTextConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int maxPositionEmbeddings,
        String hiddenAct,
        double layerNormEps,
        int padTokenId,
        int bosTokenId,
        int eosTokenId) {

    public ClipTextConfig {
        if (!hiddenAct.equals("quick_gelu") && !hiddenAct.equals("gelu")) {
            throw new WeightException("text encoder config: unsupported hidden_act '" + hiddenAct + "' (supported: quick_gelu, gelu)");
        }
        if (hiddenSize <= 0 || numAttentionHeads <= 0 || hiddenSize % numAttentionHeads != 0) {
            throw new WeightException("text encoder config: hidden_size " + hiddenSize + " is not divisible into "
                    + numAttentionHeads + " attention heads");
        }
        if (numHiddenLayers < 2 || intermediateSize <= 0 || vocabSize <= 0 || maxPositionEmbeddings <= 0) {
            throw new WeightException("text encoder config: needs num_hidden_layers >= 2 and positive sizes, got layers "
                    + numHiddenLayers + ", intermediate " + intermediateSize + ", vocab " + vocabSize + ", positions " + maxPositionEmbeddings);
        }
    }

    /** OpenAI CLIP ViT-L/14's text tower (SD 1.x): 12 layers of width 768, 12 heads, quick_gelu. */
    public static ClipTextConfig sd15() {
        return new ClipTextConfig(49408, 768, 3072, 12, 12, 77, "quick_gelu", 1e-5, 1, 49406, 49407);
    }

    /** OpenCLIP ViT-H/14's text tower as SD 2.x uses it: 23 of its 24 layers, width 1024, 16 heads, gelu. */
    public static ClipTextConfig sd21() {
        return new ClipTextConfig(49408, 1024, 4096, 23, 16, 77, "gelu", 1e-5, 1, 49406, 49407);
    }

    /** The settings in a text_encoder/config.json (parsed by dev.ldm4j.weights.Json). */
    public static ClipTextConfig fromJson(Map<String, Object> json) {
        ConfigValues c = new ConfigValues(json, "text encoder config");
        return new ClipTextConfig(
                c.integer("vocab_size", 49408),
                c.integer("hidden_size", 512),
                c.integer("intermediate_size", 2048),
                c.integer("num_hidden_layers", 12),
                c.integer("num_attention_heads", 8),
                c.integer("max_position_embeddings", 77),
                c.string("hidden_act", "quick_gelu"),
                c.number("layer_norm_eps", 1e-5),
                c.integer("pad_token_id", 1),
                c.integer("bos_token_id", 49406),
                c.integer("eos_token_id", 49407));
    }

    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    /** The same encoder with a token table of vocabSize rows (rows added for textual-inversion embeddings). */
    public ClipTextConfig withVocabSize(int vocabSize) {
        return new ClipTextConfig(vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, maxPositionEmbeddings,
                hiddenAct, layerNormEps, padTokenId, bosTokenId, eosTokenId);
    }

    public ClipTextConfig withLayers(int layers) {
        return new ClipTextConfig(vocabSize, hiddenSize, intermediateSize, layers, numAttentionHeads, maxPositionEmbeddings,
                hiddenAct, layerNormEps, padTokenId, bosTokenId, eosTokenId);
    }
}
