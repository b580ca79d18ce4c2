// diffusers' UNetMidBlock2D as the VAE uses it: resnets.0, then (when mid_block_add_attention) one
// single-head spatial self attention over all H*W positions, then resnets.1. No time embedding.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Attention;
import dev.ldm4j.nn.Params;
import dev.ldm4j.nn.ResnetBlock2D;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

public final class UNetMidBlock2D {
    private final ResnetBlock2D resnet0;
    private final Attention attention;
    private final ResnetBlock2D resnet1;

    public UNetMidBlock2D(Params p, int channels, int groups, float eps, boolean addAttention) {
        this.resnet0 = new ResnetBlock2D(p.child("resnets").child(0), channels, channels, 0, groups, eps);
        this.attention = addAttention ? Attention.spatialSelf(p.child("attentions").child(0), channels, groups, eps) : null;
        this.resnet1 = new ResnetBlock2D(p.child("resnets").child(1), channels, channels, 0, groups, eps);
    }

    /** [B, C, H, W] -> [B, C, H, W]. */
    public Tensor forward(Tensor h) {
        try (TensorScope scope = TensorScope.open()) {
            h = resnet0.forward(h, null);
            if (attention != null) {
                Tensor a = attention.forwardSpatial(h);
                scope.release(h);
                h = a;
            }
            return scope.keep(resnet1.forward(h, null));
        }
    }
}
