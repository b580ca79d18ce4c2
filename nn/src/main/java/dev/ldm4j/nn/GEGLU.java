// diffusers' GEGLU (Shazeer 2020, "GLU Variants Improve Transformer", eq. 5): one projection to twice
// the inner width, split in halves, hidden * GELU(gate) with exact GELU. Weights: "proj" [2F, D].
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;

public final class GEGLU {
    private final Backend backend;
    private final Linear proj;

    public GEGLU(Params p, int dimIn, int dimOut) {
        this.backend = p.backend();
        this.proj = new Linear(p.child("proj"), dimIn, 2 * dimOut);
    }

    /** [..., D] -> [..., F]. */
    public Tensor forward(Tensor x) {
        return proj.forwardGeglu(x);  // [..., F] = h[..., :F] * gelu(h[..., F:]), h = proj(x) [..., 2F]
    }
}
