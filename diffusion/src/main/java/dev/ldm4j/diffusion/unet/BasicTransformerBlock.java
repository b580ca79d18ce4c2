// diffusers' BasicTransformerBlock as SD 1.x/2.x use it (pre-norm, Vaswani et al. 2017 layout):
//   x = x + attn1(norm1(x))            self attention over the latent positions
//   x = x + attn2(norm2(x), context)   cross attention over the text encoder's tokens
//   x = x + ff(norm3(x))               GEGLU feed-forward
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.nn.Attention;
import dev.ldm4j.nn.FeedForward;
import dev.ldm4j.nn.LayerNorm;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

public final class BasicTransformerBlock {
    private static final float NORM_EPS = 1e-5f;

    private final LayerNorm norm1;
    private final Attention attn1;
    private final LayerNorm norm2;
    private final Attention attn2;
    private final LayerNorm norm3;
    private final FeedForward ff;

    public BasicTransformerBlock(Params p, int dim, int heads, int headDim, int crossAttentionDim) {
        this.norm1 = new LayerNorm(p.child("norm1"), dim, NORM_EPS);
        this.attn1 = Attention.transformer(p.child("attn1"), dim, 0, heads, headDim);
        this.norm2 = new LayerNorm(p.child("norm2"), dim, NORM_EPS);
        this.attn2 = Attention.transformer(p.child("attn2"), dim, crossAttentionDim, heads, headDim);
        this.norm3 = new LayerNorm(p.child("norm3"), dim, NORM_EPS);
        this.ff = new FeedForward(p.child("ff"), dim);
    }

    /** x [B, HW, D], context [B, 77, Cctx] -> [B, HW, D]. */
    public Tensor forward(Tensor x, Tensor context) {
        return forward(x, context, null, null, 0, 0);
    }

    /** forward, showing attn2's probabilities to probe when it is on (x then holds an h x w map's positions). */
    Tensor forward(Tensor x, Tensor context, CrossAttentionProbe probe, String block, int h, int w) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor n = norm1.forward(x);                          // [B, HW, D]
            Tensor h1 = attn1.forwardAdd(n, null, x);             // [B, HW, D] = attn1(norm1(x)) + x
            scope.release(n);
            n = norm2.forward(h1);                                // [B, HW, D]
            if (probe != null && probe.on()) {
                probe.observe(block, attn2, n, context, h, w);           // DAAM: softmax(q k^T / sqrt(d)), mean over heads
            }
            Tensor h2 = attn2.forwardAdd(n, context, h1);         // [B, HW, D] = attn2(norm2(h1), ctx) + h1
            scope.release(n);
            scope.release(h1);
            n = norm3.forward(h2);                                // [B, HW, D]
            return scope.keep(ff.forwardAdd(n, h2));              // [B, HW, D] = ff(norm3(h2)) + h2
        }
    }
}
