// diffusers' Upsample2D with a convolution ("upsamplers.0.conv"): nearest-neighbour 2x, then a 3x3 conv.
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

public final class Upsample2D {
    private final Backend backend;
    private final Conv2d conv;

    public Upsample2D(Params p, int channels) {
        this.backend = p.backend();
        this.conv = new Conv2d(p.child("conv"), channels, channels, 3, 1, 1);
    }

    /** [B, C, H, W] -> [B, C, 2H, 2W]. */
    public Tensor forward(Tensor x) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor up = backend.upsampleNearest2x(x);  // [B, C, 2H, 2W]
            return scope.keep(conv.forward(up));       // [B, C, 2H, 2W]
        }
    }
}
