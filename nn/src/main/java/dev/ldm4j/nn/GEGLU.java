// diffusers' GEGLU (Shazeer 2020, "GLU Variants Improve Transformer", eq. 5): one projection to twice
// the inner width, split in halves, hidden * GELU(gate) with exact GELU. Weights: "proj" [2F, D].
// Backend.linearGeglu does projection and gate in one op (fused on the GPU's tensor-core path).
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Tensor;

public final class GEGLU {
    private final Linear proj;

    public GEGLU(Params p, int dimIn, int dimOut) {
        this.proj = new Linear(p.child("proj"), dimIn, 2 * dimOut);
    }

    /** [..., D] -> [..., F]. */
    public Tensor forward(Tensor x) {
        return proj.forwardGeglu(x);  // [..., F] = h[..., :F] * gelu(h[..., F:]), h = proj(x) [..., 2F]
    }
}
