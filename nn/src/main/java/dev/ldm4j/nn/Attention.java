// diffusers' Attention (Vaswani et al. 2017, "Attention Is All You Need", eq. 1, multi-head): to_q,
// to_k, to_v project the tokens, Backend.attention computes softmax(q k^T / sqrt(d)) v per head in the
// token-major layout, to_out.0 projects back. Two uses in SD:
//  - transformer(): the U-Net's self attention (context null) and cross attention over the text
//    context, q/k/v without bias, several heads;
//  - spatialSelf(): the VAE mid block's single-head self attention over the H*W positions of a
//    feature map, with q/k/v bias, its own group_norm first and a residual connection.
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

public final class Attention {
    private final Backend backend;
    private final Linear toQ;
    private final Linear toK;
    private final Linear toV;
    private final Linear toOut;
    private final GroupNorm groupNorm;
    private final int heads;
    private final float scale;

    private Attention(Params p, int queryDim, int contextDim, int heads, int dimHead, boolean qkvBias,
                      int normGroups, float normEps) {
        this.backend = p.backend();
        int inner = heads * dimHead;
        this.heads = heads;
        this.scale = (float) (1.0 / Math.sqrt(dimHead));
        this.groupNorm = normGroups > 0 ? new GroupNorm(p.child("group_norm"), normGroups, queryDim, normEps) : null;
        this.toQ = new Linear(p.child("to_q"), queryDim, inner, qkvBias);
        this.toK = new Linear(p.child("to_k"), contextDim, inner, qkvBias);
        this.toV = new Linear(p.child("to_v"), contextDim, inner, qkvBias);
        this.toOut = new Linear(p.child("to_out").child(0), inner, queryDim);
    }

    /**
     * Attention of a transformer block: self attention when contextDim is 0, else cross attention
     * over a context of that width. q/k/v have no bias; to_out.0 has one.
     */
    public static Attention transformer(Params p, int queryDim, int contextDim, int heads, int dimHead) {
        return new Attention(p, queryDim, contextDim > 0 ? contextDim : queryDim, heads, dimHead, false, 0, 0f);
    }

    /** Single-head self attention over a feature map's positions, with group_norm and a residual (the VAE's). */
    public static Attention spatialSelf(Params p, int channels, int normGroups, float normEps) {
        return new Attention(p, channels, channels, 1, channels, true, normGroups, normEps);
    }

    /**
     * Token-major attention: x [B, Lq, queryDim], context [B, Lk, contextDim] or null for self
     * attention -> [B, Lq, queryDim].
     */
    public Tensor forward(Tensor x, Tensor context) {
        try (TensorScope scope = TensorScope.open()) {
            return scope.keep(toOut.forward(attend(x, context)));                 // [B, Lq, queryDim]
        }
    }

    /** forward(x, context) + residual ([B, Lq, queryDim]), the add fused into the output projection where the backend can. */
    public Tensor forwardAdd(Tensor x, Tensor context, Tensor residual) {
        try (TensorScope scope = TensorScope.open()) {
            return scope.keep(toOut.forwardAdd(attend(x, context), residual));    // [B, Lq, queryDim]
        }
    }

    /** The attention heads before to_out: [B, Lq, H*D] (q, k and v are freed by the caller's scope). */
    private Tensor attend(Tensor x, Tensor context) {
        Tensor kv = context == null ? x : context;
        Tensor q = toQ.forward(x);                                  // [B, Lq, H*D]
        Tensor k = toK.forward(kv);                                 // [B, Lk, H*D]
        Tensor v = toV.forward(kv);                                 // [B, Lk, H*D]
        return backend.attention(q, k, v, heads, scale, false);     // [B, Lq, H*D]
    }

    /**
     * The attention probabilities of rows [fromRow, fromRow + rows) of the batch, averaged over heads: x [B, Lq, queryDim],
     * context [B, Lk, contextDim] (null: self attention) -> [rows, Lq, Lk], each row of Lk summing to 1. The fused
     * backend.attention never materializes them, so they are computed here apart from forward, as
     *     P = (1 / H) sum_h softmax(q_h k_h^T * scale)            (Vaswani et al. 2017, eq. 1, before the product with V),
     * recomputing the q and k projections of those rows only: the cost of an inspection (DAAM's heat maps, Tang et al.
     * 2023), paid only by whoever calls it.
     */
    public Tensor headAveragedProbabilities(Tensor x, Tensor context, int fromRow, int rows) {
        Tensor kv = context == null ? x : context;
        int lq = x.dim(1), lk = kv.dim(1), d = toQ.outFeatures() / heads;
        try (TensorScope scope = TensorScope.open()) {
            Tensor xr = backend.contiguous(x.slice(0, fromRow, fromRow + rows));                         // [R, Lq, queryDim]
            Tensor kvr = backend.contiguous(kv.slice(0, fromRow, fromRow + rows));                       // [R, Lk, contextDim]
            Tensor q = toQ.forward(xr);                                                                   // [R, Lq, H*D]
            Tensor k = toK.forward(kvr);                                                                  // [R, Lk, H*D]
            Tensor qh = backend.contiguous(q.reshape(rows, lq, heads, d).transpose(1, 2));               // [R, H, Lq, D]
            Tensor kt = backend.contiguous(k.reshape(rows, lk, heads, d).permute(0, 2, 3, 1));           // [R, H, D, Lk]
            Tensor scores = backend.scale(backend.matmul(qh, kt), scale);                                 // [R, H, Lq, Lk]
            Tensor p = backend.mean(backend.softmax(scores), 1);                                          // [R, 1, Lq, Lk]
            return scope.keep(backend.contiguous(p).reshape(rows, lq, lk));                               // [R, Lq, Lk]
        }
    }

    /**
     * Spatial self attention with residual: x [B, C, H, W] -> x + attn(groupNorm(x)) [B, C, H, W],
     * the positions as tokens.
     */
    public Tensor forwardSpatial(Tensor x) {
        int b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        try (TensorScope scope = TensorScope.open()) {
            Tensor n = groupNorm != null ? groupNorm.forward(x) : x;                   // [B, C, H, W]
            Tensor tokens = n.reshape(b, c, h * w).transpose(1, 2);                    // [B, HW, C] (view)
            Tensor out = forward(tokens, null);                                        // [B, HW, C]
            scope.release(n);
            Tensor map = backend.contiguous(out.transpose(1, 2)).reshape(b, c, h, w);  // [B, C, H, W]
            return scope.keep(backend.add(map, x));
        }
    }
}
