// torch.nn.GroupNorm (affine): statistics per sample and group of channels, then a per-channel scale
// and shift. Weights: "weight" [C], "bias" [C].
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.WeightException;

public final class GroupNorm {
    private final Backend backend;
    private final Tensor weight;
    private final Tensor bias;
    private final int groups;
    private final float eps;

    public GroupNorm(Params p, int groups, int channels, float eps) {
        if (groups <= 0 || channels % groups != 0) {
            throw new WeightException(p.key("weight") + ": " + channels + " channels cannot be split into " + groups + " groups");
        }
        this.backend = p.backend();
        this.weight = p.tensor("weight", channels);
        this.bias = p.tensor("bias", channels);
        this.groups = groups;
        this.eps = eps;
    }

    /** [N, C, *] -> [N, C, *]. */
    public Tensor forward(Tensor x) {
        return backend.groupNorm(x, groups, weight, bias, eps, false);
    }

    /** SiLU(groupNorm(x)), fused: the "norm + act" pair every ResnetBlock2D starts with. */
    public Tensor forwardSilu(Tensor x) {
        return backend.groupNorm(x, groups, weight, bias, eps, true);
    }
}
