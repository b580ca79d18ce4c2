// diffusers' FeedForward with the GEGLU activation, as in every SD 1.x/2.x transformer block:
// net.0 = GEGLU(dim -> inner), net.1 = dropout (none at inference), net.2 = Linear(inner -> dim),
// with inner = 4 * dim.
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

public final class FeedForward {
    private final GEGLU geglu;
    private final Linear out;

    public FeedForward(Params p, int dim, int mult) {
        int inner = dim * mult;
        this.geglu = new GEGLU(p.child("net").child(0), dim, inner);
        this.out = new Linear(p.child("net").child(2), inner, dim);
    }

    public FeedForward(Params p, int dim) {
        this(p, dim, 4);
    }

    /** [B, L, D] -> [B, L, D]. */
    public Tensor forward(Tensor x) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor h = geglu.forward(x);          // [B, L, 4D]
            return scope.keep(out.forward(h));    // [B, L, D]
        }
    }

    /** forward(x) + residual ([B, L, D]), the add fused into the output projection where the backend can. */
    public Tensor forwardAdd(Tensor x, Tensor residual) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor h = geglu.forward(x);                      // [B, L, 4D]
            return scope.keep(out.forwardAdd(h, residual));   // [B, L, D]
        }
    }
}
