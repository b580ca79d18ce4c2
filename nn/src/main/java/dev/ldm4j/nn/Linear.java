// torch.nn.Linear: y = x W^T + b over the last dimension. Weights: "weight" [out, in], "bias" [out].
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;

public final class Linear {
    private final Backend backend;
    private final Tensor weight;
    private final Tensor bias;
    private final int inFeatures;
    private final int outFeatures;

    public Linear(Params p, int inFeatures, int outFeatures, boolean bias) {
        this.backend = p.backend();
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.weight = p.tensor("weight", outFeatures, inFeatures);
        this.bias = bias ? p.tensor("bias", outFeatures) : null;
    }

    public Linear(Params p, int inFeatures, int outFeatures) {
        this(p, inFeatures, outFeatures, true);
    }

    /** [..., in] -> [..., out]. */
    public Tensor forward(Tensor x) {
        return backend.linear(x, weight, bias, Activation.NONE);
    }

    /** x W^T + b + residual (residual [..., out]), the add fused into the op where the backend can. */
    public Tensor forwardAdd(Tensor x, Tensor residual) {
        return backend.linearAdd(x, weight, bias, residual);
    }

    /** geglu(x W^T + b) for a projection to 2F features -> [..., F], the gate fused into the op where the backend can. */
    public Tensor forwardGeglu(Tensor x) {
        return backend.linearGeglu(x, weight, bias);
    }

    /** act(x W^T + b), the activation fused into the op. */
    public Tensor forward(Tensor x, Activation act) {
        return backend.linear(x, weight, bias, act);
    }

    public int inFeatures() {
        return inFeatures;
    }

    public int outFeatures() {
        return outFeatures;
    }
}
