// The CLIP text encoder (Radford et al. 2021, "Learning Transferable Visual Models From Natural
// Language Supervision"), as transformers' CLIPTextTransformer: token + learned position embeddings,
// pre-LN transformer layers with causal self attention and an MLP (quick_gelu for OpenAI CLIP,
// exact gelu for OpenCLIP), then final_layer_norm. Weights under text_model.* (diffusers folders
// and, through the key mapping, original single files).
package dev.ldm4j.diffusion.clip;

import dev.ldm4j.nn.LayerNorm;
import dev.ldm4j.nn.Linear;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;

public final class ClipTextTransformer {
    /**
     * What one call returns.
     *
     * @param lastHiddenState   final_layer_norm(output of the last layer) [B, L, D]: the SD 1.x conditioning
     * @param penultimateNormed final_layer_norm(output of the second-to-last layer) [B, L, D]: "clip skip 2"
     * @param pooled            lastHiddenState at each row's end-of-text position [B, D]
     * @param hiddenStates      the embeddings and each layer's output, numHiddenLayers + 1 tensors [B, L, D]
     */
    public record Output(Tensor lastHiddenState, Tensor penultimateNormed, Tensor pooled, List<Tensor> hiddenStates) {
    }

    private final ClipTextConfig config;
    private final Backend backend;
    private final Tensor tokenEmbedding;
    private final Tensor positionEmbedding;
    private final List<Layer> layers = new ArrayList<>();
    private final LayerNorm finalLayerNorm;

    /** Loads from p, the root of the text encoder's weights (the scope holding text_model). */
    public ClipTextTransformer(Params p, ClipTextConfig config) {
        this.config = config;
        this.backend = p.backend();
        Params tm = p.child("text_model");
        int d = config.hiddenSize();
        Params emb = tm.child("embeddings");
        this.tokenEmbedding = emb.child("token_embedding").tensor("weight", config.vocabSize(), d);
        this.positionEmbedding = emb.child("position_embedding").tensor("weight", config.maxPositionEmbeddings(), d);
        Params enc = tm.child("encoder").child("layers");
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            layers.add(new Layer(enc.child(i), config));
        }
        this.finalLayerNorm = new LayerNorm(tm.child("final_layer_norm"), d, (float) config.layerNormEps());
    }

    public ClipTextConfig config() {
        return config;
    }

    /** The token embedding table, text_model.embeddings.token_embedding.weight [vocab_size, D] (the checkpoint's dtype). */
    public Tensor tokenEmbedding() {
        return tokenEmbedding;
    }

    /** Encodes token ids [B][L] (L at most maxPositionEmbeddings, usually 77). */
    public Output forward(int[][] ids) {
        int b = ids.length;
        int len = ids[0].length;
        if (len == 0 || len > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("token sequences must have 1.." + config.maxPositionEmbeddings() + " ids, got " + len);
        }
        int[] flat = new int[b * len];
        for (int i = 0; i < b; i++) {
            if (ids[i].length != len) {
                throw new IllegalArgumentException("token sequences differ in length: " + len + " and " + ids[i].length);
            }
            for (int j = 0; j < len; j++) {
                int id = ids[i][j];
                if (id < 0 || id >= config.vocabSize()) {
                    throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + config.vocabSize());
                }
                flat[i * len + j] = id;
            }
        }
        int d = config.hiddenSize();
        Tensor tokens = backend.embedding(tokenEmbedding, flat).reshape(b, len, d);   // [B, L, D]
        Tensor positions = positionEmbedding.slice(0, 0, len);                        // [L, D]
        Tensor x = backend.add(tokens, positions);                                    // [B, L, D]
        List<Tensor> hidden = new ArrayList<>();
        hidden.add(x);
        for (Layer layer : layers) {
            x = layer.forward(x);                                                     // [B, L, D]
            hidden.add(x);
        }
        Tensor last = finalLayerNorm.forward(x);                                      // [B, L, D]
        Tensor penultimate = finalLayerNorm.forward(hidden.get(hidden.size() - 2));   // [B, L, D]
        Tensor[] rows = new Tensor[b];
        for (int i = 0; i < b; i++) {
            int at = endOfTextPosition(ids[i]);
            rows[i] = last.slice(0, i, i + 1).slice(1, at, at + 1);                   // [1, 1, D]
        }
        Tensor pooled = backend.concat(0, rows).reshape(b, d);                         // [B, D]
        return new Output(last, penultimate, pooled, List.copyOf(hidden));
    }

    /**
     * The position pooled, as transformers 5 chooses it: the first occurrence of eos_token_id (0 when
     * there is none), except for legacy configs with eos_token_id 2, where it is the position of the
     * largest id (the end-of-text token has the largest id in CLIP's vocabulary).
     */
    int endOfTextPosition(int[] row) {
        int best = 0;
        for (int j = 0; j < row.length; j++) {
            if (config.eosTokenId() == 2) {
                if (row[j] > row[best]) {
                    best = j;
                }
            } else if (row[j] == config.eosTokenId()) {
                return j;
            }
        }
        return best;
    }

    /** One pre-LN encoder layer: x + attn(ln1(x)), then x + mlp(ln2(x)). */
    private static final class Layer {
        private final Backend backend;
        private final LayerNorm layerNorm1;
        private final LayerNorm layerNorm2;
        private final Linear qProj;
        private final Linear kProj;
        private final Linear vProj;
        private final Linear outProj;
        private final Linear fc1;
        private final Linear fc2;
        private final Activation act;
        private final int heads;
        private final float scale;

        Layer(Params p, ClipTextConfig c) {
            this.backend = p.backend();
            int d = c.hiddenSize();
            float eps = (float) c.layerNormEps();
            this.layerNorm1 = new LayerNorm(p.child("layer_norm1"), d, eps);
            this.layerNorm2 = new LayerNorm(p.child("layer_norm2"), d, eps);
            Params attn = p.child("self_attn");
            this.qProj = new Linear(attn.child("q_proj"), d, d);
            this.kProj = new Linear(attn.child("k_proj"), d, d);
            this.vProj = new Linear(attn.child("v_proj"), d, d);
            this.outProj = new Linear(attn.child("out_proj"), d, d);
            this.fc1 = new Linear(p.child("mlp").child("fc1"), d, c.intermediateSize());
            this.fc2 = new Linear(p.child("mlp").child("fc2"), c.intermediateSize(), d);
            this.act = c.hiddenAct().equals("gelu") ? Activation.GELU : Activation.QUICK_GELU;
            this.heads = c.numAttentionHeads();
            this.scale = (float) (1.0 / Math.sqrt(c.headDim()));
        }

        Tensor forward(Tensor x) {
            try (TensorScope scope = TensorScope.open()) {
                Tensor h = layerNorm1.forward(x);                                      // [B, L, D]
                Tensor a = backend.attention(qProj.forward(h), kProj.forward(h), vProj.forward(h),
                        heads, scale, true);                                           // [B, L, D], causal
                x = backend.add(x, outProj.forward(a));                                // [B, L, D]
                h = fc1.forward(layerNorm2.forward(x), act);                           // [B, L, I]
                return scope.keep(backend.add(x, fc2.forward(h)));                     // [B, L, D]
            }
        }
    }
}
