// What the U-Net needs from an up block: run on h, popping one skip tensor from the stack before each
// resnet and concatenating it on the channel dimension; the upsampler then resizes to the size of the
// skip left on top of the stack (the one the next block concatenates first).
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.tensor.Tensor;

import java.util.Deque;

interface UpBlock {
    /**
     * h [B, Cprev, H, W] -> [B, Cout, H', W'], H' x W' the size of the skip then on top of the stack: 2H x 2W when
     * the latent's sides are multiples of 2^(blocks-1), else the odd size the down path made there (diffusers'
     * upsample_size); [B, Cout, H, W] for the last block, which has no upsampler.
     */
    Tensor forward(Tensor h, Tensor temb, Tensor context, Deque<Tensor> skips);
}
