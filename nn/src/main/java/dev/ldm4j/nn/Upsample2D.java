// diffusers' Upsample2D with a convolution ("upsamplers.0.conv"): nearest-neighbour 2x (or, given an
// output size, nearest to that size, as diffusers' upsample_size), then a 3x3 conv.
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
        return forward(x, 2 * x.dim(2), 2 * x.dim(3));
    }

    /**
     * [B, C, H, W] -> [B, C, outH, outW]: F.interpolate(x, size=(outH, outW), mode="nearest"), then the conv.
     * The U-Net passes the size of the skip the next level concatenates when a latent side is odd at some
     * level (e.g. 5x7 -> 9x13); exact doubling takes the 2x kernel, which gives the same numbers.
     */
    public Tensor forward(Tensor x, int outH, int outW) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor up = outH == 2 * x.dim(2) && outW == 2 * x.dim(3)
                    ? backend.upsampleNearest2x(x)              // [B, C, 2H, 2W]
                    : backend.upsampleNearest(x, outH, outW);   // [B, C, outH, outW]
            return scope.keep(conv.forward(up));               // [B, C, outH, outW]
        }
    }
}
