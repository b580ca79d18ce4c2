// diffusers' TimestepEmbedding: the MLP that turns the sinusoidal timestep features into the time
// embedding every ResnetBlock2D reads: linear_1, SiLU, linear_2.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.nn.Linear;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

public final class TimestepEmbedding {
    private final Linear linear1;
    private final Linear linear2;

    public TimestepEmbedding(Params p, int inChannels, int timeEmbedDim) {
        this.linear1 = new Linear(p.child("linear_1"), inChannels, timeEmbedDim);
        this.linear2 = new Linear(p.child("linear_2"), timeEmbedDim, timeEmbedDim);
    }

    /** [B, C0] -> [B, 4 C0]. */
    public Tensor forward(Tensor sinusoid) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor h = linear1.forward(sinusoid, Activation.SILU);  // [B, 4 C0]
            return scope.keep(linear2.forward(h));                  // [B, 4 C0]
        }
    }
}
