// Step 1 of the sampling loop: the prompt and the negative prompt through the CLIP tokenizer and text
// encoder into the U-Net's context, [uncond x B, cond x B] (cond x B without guidance), in one of two
// styles:
//  - diffusers (encode_prompt): each text cut to 77 ids, context [2B, 77, D]; clip skip applies to the
//    prompt only, as in diffusers;
//  - A1111 (the web UI's FrozenCLIPEmbedderWithCustomWords): each text in chunks of 77 ids (A1111Prompt),
//    each chunk encoded on its own, its hidden states scaled by the tokens' weights and then by
//    mean(z) / mean(weighted z) over the chunk (EmphasisOriginal), the chunks concatenated along the
//    sequence; the shorter of prompt and negative prompt padded with the empty prompt's chunk, so both
//    have 77 k positions, context [2B, 77 k, D]; clip skip applies to both texts, as in the web UI.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.clip.ClipTextTransformer;
import dev.ldm4j.diffusion.prompt.A1111Prompt;
import dev.ldm4j.diffusion.prompt.PromptStyle;
import dev.ldm4j.diffusion.tokenizer.ClipEncoding;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.nn.LayerNorm;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

final class PromptEncoder {
    /**
     * @param context  [2B or B, L, D]: L = 77 for diffusers, 77 k for A1111
     * @param prompt   the prompt's ids (A1111: its first chunk) and token count
     * @param negative the same for the negative prompt, or null without guidance
     */
    record Embeddings(Tensor context, ClipEncoding prompt, ClipEncoding negative) {
    }

    private final ClipTokenizer tokenizer;
    private final ClipTextTransformer textEncoder;
    private final LayerNorm finalLayerNorm;   // for clip skip: final_layer_norm on an earlier layer
    private final Backend backend;

    PromptEncoder(ClipTokenizer tokenizer, ClipTextTransformer textEncoder, LayerNorm finalLayerNorm, Backend backend) {
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.finalLayerNorm = finalLayerNorm;
        this.backend = backend;
    }

    /** The context of a request's texts; clipSkip k takes the hidden state k layers before the last. */
    Embeddings encode(String text, String negativeText, int batch, boolean guided, int clipSkip, PromptStyle style) {
        int layers = textEncoder.config().numHiddenLayers();
        if (clipSkip >= layers) {
            throw new IllegalArgumentException("clip skip " + clipSkip + " is too large: the text encoder has " + layers + " layers");
        }
        return style == PromptStyle.A1111
                ? a1111(text, negativeText, batch, guided, clipSkip)
                : diffusers(text, negativeText, batch, guided, clipSkip);
    }

    /**
     * diffusers' encode_prompt: the prompt's embeddings (clip_skip k takes the hidden state k layers
     * before the last through final_layer_norm), repeated per image; with guidance the negative
     * prompt's embeddings first. As in diffusers, clip skip applies to the prompt only: the negative
     * prompt always uses the last layer.
     */
    private Embeddings diffusers(String text, String negativeText, int batch, boolean guided, int clipSkip) {
        ClipEncoding prompt = tokenizer.encode(text);
        ClipEncoding negative = guided ? tokenizer.encode(negativeText) : null;
        int[][] ids = guided ? new int[][] {negative.ids(), prompt.ids()} : new int[][] {prompt.ids()};
        ClipTextTransformer.Output out = textEncoder.forward(ids);                        // [1 or 2, 77, D]
        int row = guided ? 1 : 0;
        Tensor cond = clipSkip == 0
                ? out.lastHiddenState().slice(0, row, row + 1)
                : finalLayerNorm.forward(out.hiddenStates().get(out.hiddenStates().size() - 1 - clipSkip).slice(0, row, row + 1)); // [1, 77, D]
        List<Tensor> rows = new ArrayList<>();
        if (guided) {
            Tensor uncond = out.lastHiddenState().slice(0, 0, 1);                          // [1, 77, D]
            for (int b = 0; b < batch; b++) {
                rows.add(uncond);
            }
        }
        for (int b = 0; b < batch; b++) {
            rows.add(cond);
        }
        Tensor context = backend.concat(0, rows.toArray(new Tensor[0]));                 // [2B or B, 77, D]
        return new Embeddings(context, prompt, negative);
    }

    /** The web UI's conditioning, as described at the top of this file. */
    private Embeddings a1111(String text, String negativeText, int batch, boolean guided, int clipSkip) {
        List<A1111Prompt.Piece> condPieces = A1111Prompt.parse(text);
        List<A1111Prompt.Chunk> cond = A1111Prompt.chunks(condPieces, tokenizer);
        List<A1111Prompt.Piece> uncondPieces = guided ? A1111Prompt.parse(negativeText) : List.of();
        List<A1111Prompt.Chunk> uncond = guided ? A1111Prompt.chunks(uncondPieces, tokenizer) : List.of();
        int k = Math.max(cond.size(), uncond.size());
        boolean padded = guided && cond.size() != uncond.size();

        // One text-encoder batch: the negative's chunks, the prompt's, then the empty prompt when padding.
        List<A1111Prompt.Chunk> all = new ArrayList<>(uncond);
        all.addAll(cond);
        if (padded) {
            all.add(A1111Prompt.chunks(A1111Prompt.parse(""), tokenizer).getFirst());
        }
        int[][] ids = new int[all.size()][];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = all.get(i).ids();
        }
        ClipTextTransformer.Output out = textEncoder.forward(ids);                         // [N, 77, D]
        Tensor hidden = clipSkip == 0
                ? out.lastHiddenState()
                : finalLayerNorm.forward(out.hiddenStates().get(out.hiddenStates().size() - 1 - clipSkip)); // [N, 77, D]
        float[] z = backend.toHost(hidden).data().clone();                                  // [N, 77, D]
        int rowSize = ClipTokenizer.CONTEXT_LENGTH * hidden.dim(2);
        for (int i = 0; i < all.size(); i++) {
            if (!all.get(i).unweighted()) {
                emphasize(z, i * rowSize, all.get(i).weights(), hidden.dim(2));
            }
        }

        // Each text's chunks side by side along the sequence, the empty prompt's after them: [1, 77 k, D].
        int empty = all.size() - 1;
        float[] uncondZ = guided ? concatenated(z, 0, uncond.size(), empty, k, rowSize) : null;
        float[] condZ = concatenated(z, uncond.size(), cond.size(), empty, k, rowSize);
        int rows = guided ? 2 * batch : batch;
        float[] context = new float[rows * k * rowSize];
        for (int b = 0; b < batch; b++) {
            if (guided) {
                System.arraycopy(uncondZ, 0, context, b * uncondZ.length, uncondZ.length);
            }
            System.arraycopy(condZ, 0, context, ((guided ? batch : 0) + b) * condZ.length, condZ.length);
        }
        Tensor c = backend.toDevice(Tensor.of(context, rows, k * ClipTokenizer.CONTEXT_LENGTH, hidden.dim(2))); // [2B or B, 77 k, D]
        ClipEncoding prompt = new ClipEncoding(cond.getFirst().ids(), A1111Prompt.tokenCount(condPieces, tokenizer), "");
        ClipEncoding negative = guided
                ? new ClipEncoding(uncond.getFirst().ids(), A1111Prompt.tokenCount(uncondPieces, tokenizer), "")
                : null;
        return new Embeddings(c, prompt, negative);
    }

    /** Rows first..first+count-1 of z one after the other, then row empty until there are k: [77 k, D] flat. */
    private static float[] concatenated(float[] z, int first, int count, int empty, int k, int rowSize) {
        float[] out = new float[k * rowSize];
        for (int j = 0; j < k; j++) {
            int from = j < count ? first + j : empty;
            System.arraycopy(z, from * rowSize, out, j * rowSize, rowSize);
        }
        return out;
    }

    /**
     * The web UI's EmphasisOriginal on one chunk's hidden states z [77, D] at offset at: every position
     * scaled by its token's weight, then the whole chunk by mean(z) / mean(weighted z), so that the
     * chunk's mean is what it was. float32 as the web UI computes it (the means summed in double).
     */
    static void emphasize(float[] z, int at, float[] weights, int width) {
        int n = weights.length * width;
        double before = 0;
        double after = 0;
        for (int t = 0; t < weights.length; t++) {
            for (int e = 0; e < width; e++) {
                int i = at + t * width + e;
                before += z[i];
                z[i] = z[i] * weights[t];
                after += z[i];
            }
        }
        float ratio = (float) (before / n) / (float) (after / n);
        for (int i = at; i < at + n; i++) {
            z[i] = z[i] * ratio;
        }
    }
}
