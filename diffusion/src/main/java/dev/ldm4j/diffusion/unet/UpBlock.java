// What the U-Net needs from an up block: run on h, popping one skip tensor from the stack before each
// resnet and concatenating it on the channel dimension.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.tensor.Tensor;

import java.util.Deque;

interface UpBlock {
    /** h [B, Cprev, H, W] -> [B, Cout, 2H, 2W] (or [B, Cout, H, W] for the last block). */
    Tensor forward(Tensor h, Tensor temb, Tensor context, Deque<Tensor> skips);
}
