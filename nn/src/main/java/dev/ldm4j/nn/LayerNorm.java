// torch.nn.LayerNorm over the last dimension (affine). Weights: "weight" [D], "bias" [D].
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;

public final class LayerNorm {
    private final Backend backend;
    private final Tensor weight;
    private final Tensor bias;
    private final float eps;

    public LayerNorm(Params p, int dim, float eps) {
        this.backend = p.backend();
        this.weight = p.tensor("weight", dim);
        this.bias = p.tensor("bias", dim);
        this.eps = eps;
    }

    /** [..., D] -> [..., D]. */
    public Tensor forward(Tensor x) {
        return backend.layerNorm(x, weight, bias, eps);
    }
}
