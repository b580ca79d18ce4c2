// diffusers' Downsample2D with a convolution ("downsamplers.0.conv"): a 3x3 conv of stride 2 that
// halves H and W. With padding 1 (the U-Net) the conv pads one on every side; with padding 0 (the VAE)
// the input is first padded by one row at the bottom and one column at the right only, as diffusers
// does, so the sampling grid is shifted by half a pixel relative to the U-Net's.
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Tensor;

public final class Downsample2D {
    private final Conv2d conv;

    public Downsample2D(Params p, int channels, int padding) {
        this.conv = padding == 0
                ? new Conv2d(p.child("conv"), channels, channels, 3, 2, 0, 1, 0, 1)
                : new Conv2d(p.child("conv"), channels, channels, 3, 2, padding);
    }

    /** [B, C, H, W] -> [B, C, H/2, W/2] for even H, W; an odd side rounds up with padding 1 (9 -> 5, the U-Net's odd sizes). */
    public Tensor forward(Tensor x) {
        return conv.forward(x);
    }
}
