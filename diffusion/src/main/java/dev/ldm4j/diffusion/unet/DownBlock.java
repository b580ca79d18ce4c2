// What the U-Net needs from a down block: run on h, pushing every output the up path will
// concatenate back (after each resnet/attention pair and after the downsampler) onto the skip stack.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.tensor.Tensor;

import java.util.Deque;

interface DownBlock {
    /** h [B, Cin, H, W] -> [B, Cout, ceil(H/2), ceil(W/2)] (or [B, Cout, H, W] for the last block). */
    Tensor forward(Tensor h, Tensor temb, Tensor context, Deque<Tensor> skips);
}
