// diffusers' TimestepEmbedding: the MLP that turns the sinusoidal timestep features into the time
// embedding every ResnetBlock2D reads: linear_1, SiLU, linear_2. A U-Net with time_cond_proj_dim (an
// LCM-distilled one) also has cond_proj, a bias-free linear map of an extra condition (the embedded
// guidance scale) into the sinusoid's width, added to the sinusoid before linear_1 when one is given.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.nn.Linear;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.Arrays;

public final class TimestepEmbedding {
    private final Linear linear1;
    private final Linear condProj;
    private final Linear linear2;

    public TimestepEmbedding(Params p, int inChannels, int timeEmbedDim) {
        this(p, inChannels, timeEmbedDim, null);
    }

    /** condProjDim: time_cond_proj_dim, or null for a U-Net without the extra condition (no cond_proj weight). */
    public TimestepEmbedding(Params p, int inChannels, int timeEmbedDim, Integer condProjDim) {
        // Constructor order as diffusers' __init__ (linear_1, cond_proj, linear_2): ModelInit draws in this order.
        this.linear1 = new Linear(p.child("linear_1"), inChannels, timeEmbedDim);
        this.condProj = condProjDim == null ? null : new Linear(p.child("cond_proj"), condProjDim, inChannels, false);
        this.linear2 = new Linear(p.child("linear_2"), timeEmbedDim, timeEmbedDim);
    }

    /** [B, C0] -> [B, 4 C0]. */
    public Tensor forward(Tensor sinusoid) {
        return forward(sinusoid, null);
    }

    /** [B, C0] (+ cond_proj(condition [B, time_cond_proj_dim]) when condition is not null) -> [B, 4 C0]. */
    public Tensor forward(Tensor sinusoid, Tensor condition) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = sinusoid;
            if (condition != null) {
                if (condProj == null) {
                    throw new IllegalArgumentException("unet: a timestep condition was given, but this U-Net has no time_cond_proj_dim (no cond_proj)");
                }
                if (condition.rank() != 2 || condition.dim(0) != sinusoid.dim(0) || condition.dim(1) != condProj.inFeatures()) {
                    throw new IllegalArgumentException("unet: timestep condition must be [" + sinusoid.dim(0) + ", " + condProj.inFeatures()
                            + "], got " + Arrays.toString(condition.shape()));
                }
                x = condProj.forwardAdd(condition, sinusoid);       // [B, C0]
            }
            Tensor h = linear1.forward(x, Activation.SILU);         // [B, 4 C0]
            return scope.keep(linear2.forward(h));                  // [B, 4 C0]
        }
    }

    /** time_cond_proj_dim, or 0 when there is no cond_proj. */
    public int conditionWidth() {
        return condProj == null ? 0 : condProj.inFeatures();
    }
}
