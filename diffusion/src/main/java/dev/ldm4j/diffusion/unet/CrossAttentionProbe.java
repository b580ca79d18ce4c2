// The switch behind UNet2DConditionModel.listenToCrossAttention: one per U-Net, shared by its Transformer2DModels.
// Off (no listener), it costs one field read per transformer block; on, each block's cross attention (attn2) also
// computes its head-averaged probabilities for the asked rows and hands them to the listener, layer by layer.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.nn.Attention;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.function.Consumer;

final class CrossAttentionProbe {
    private final Backend backend;
    private Consumer<CrossAttentionMap> listener;
    private int fromRow;
    private int rows;
    private int nextLayer;

    CrossAttentionProbe(Backend backend) {
        this.backend = backend;
    }

    void set(Consumer<CrossAttentionMap> listener, int fromRow, int rows) {
        if (listener != null && (fromRow < 0 || rows < 1)) {
            throw new IllegalArgumentException("cross-attention rows must start at 0 or later and hold at least one row, got "
                    + fromRow + " and " + rows);
        }
        this.listener = listener;
        this.fromRow = fromRow;
        this.rows = rows;
    }

    boolean on() {
        return listener != null;
    }

    /** A U-Net call begins: layers count from 0 again. */
    void startCall() {
        nextLayer = 0;
    }

    /** The cross attention attn of a block, over x [B, h*w, D] (its normalized input) and context [B, L, Cctx]. */
    void observe(String block, Attention attn, Tensor x, Tensor context, int h, int w) {
        int layer = nextLayer++;
        if (fromRow + rows > x.dim(0)) {
            throw new IllegalArgumentException("cross-attention rows " + fromRow + ".." + (fromRow + rows - 1)
                    + " asked of a batch of " + x.dim(0));
        }
        float[] p;
        try (TensorScope scope = TensorScope.open()) {
            p = backend.toHost(attn.headAveragedProbabilities(x, context, fromRow, rows)).data();    // [R, h*w, L]
        }
        listener.accept(new CrossAttentionMap(layer, block, h, w, context.dim(1), rows, p));
    }
}
