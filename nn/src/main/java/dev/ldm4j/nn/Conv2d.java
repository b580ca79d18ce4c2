// torch.nn.Conv2d with zero padding and dilation 1. Weights: "weight" [out, in, k, k], "bias" [out]
// (none for withoutBias, torch's bias=False).
// Padding may differ per side, for diffusers' VAE Downsample2D, which pads (0, 1, 0, 1) before a
// stride-2 convolution without padding.
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;

public final class Conv2d {
    private final Backend backend;
    private final Tensor weight;
    private final Tensor bias;
    private final int stride;
    private final int padTop;
    private final int padBottom;
    private final int padLeft;
    private final int padRight;

    public Conv2d(Params p, int inChannels, int outChannels, int kernel, int stride,
                  int padTop, int padBottom, int padLeft, int padRight) {
        this(p, inChannels, outChannels, kernel, stride, padTop, padBottom, padLeft, padRight, true);
    }

    private Conv2d(Params p, int inChannels, int outChannels, int kernel, int stride,
                   int padTop, int padBottom, int padLeft, int padRight, boolean hasBias) {
        this.backend = p.backend();
        this.weight = p.tensor("weight", outChannels, inChannels, kernel, kernel);
        this.bias = hasBias ? p.tensor("bias", outChannels) : null;
        this.stride = stride;
        this.padTop = padTop;
        this.padBottom = padBottom;
        this.padLeft = padLeft;
        this.padRight = padRight;
    }

    /** Same padding on every side. */
    public Conv2d(Params p, int inChannels, int outChannels, int kernel, int stride, int padding) {
        this(p, inChannels, outChannels, kernel, stride, padding, padding, padding, padding);
    }

    /** A convolution with weight only (torch.nn.Conv2d(..., bias=False)), the same padding on every side. */
    public static Conv2d withoutBias(Params p, int inChannels, int outChannels, int kernel, int stride, int padding) {
        return new Conv2d(p, inChannels, outChannels, kernel, stride, padding, padding, padding, padding, false);
    }

    /** [N, in, H, W] -> [N, out, (H + pt + pb - k) / s + 1, (W + pl + pr - k) / s + 1]. */
    public Tensor forward(Tensor x) {
        return backend.conv2d(x, weight, bias, stride, padTop, padBottom, padLeft, padRight);
    }

    /** conv(x) + residual (residual shaped like the output), the add fused into the op where the backend can. */
    public Tensor forwardAdd(Tensor x, Tensor residual) {
        return backend.conv2dAdd(x, weight, bias, stride, padTop, padBottom, padLeft, padRight, residual);
    }
}
