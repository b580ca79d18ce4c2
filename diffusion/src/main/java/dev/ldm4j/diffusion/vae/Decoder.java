// diffusers' Decoder of the KL autoencoder: conv_in from the latent to the widest channels, the mid
// block with attention, UpDecoderBlock2Ds (layers_per_block + 1 resnets each, doubling the resolution
// in all but the last), conv_norm_out + SiLU, conv_out to image channels.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Conv2d;
import dev.ldm4j.nn.GroupNorm;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;

public final class Decoder {
    private final Conv2d convIn;
    private final UNetMidBlock2D midBlock;
    private final List<UpDecoderBlock2D> upBlocks = new ArrayList<>();
    private final GroupNorm convNormOut;
    private final Conv2d convOut;

    public Decoder(Params p, VaeConfig c) {
        List<Integer> ch = c.blockOutChannels();
        int n = ch.size();
        int groups = c.normNumGroups();
        float eps = Encoder.EPS;
        this.convIn = new Conv2d(p.child("conv_in"), c.latentChannels(), ch.get(n - 1), 3, 1, 1);
        this.midBlock = new UNetMidBlock2D(p.child("mid_block"), ch.get(n - 1), groups, eps, c.midBlockAddAttention());
        int out = ch.get(n - 1);
        for (int i = 0; i < n; i++) {
            int in = out;
            out = ch.get(n - 1 - i);
            upBlocks.add(new UpDecoderBlock2D(p.child("up_blocks").child(i), c.layersPerBlock() + 1, in, out, groups, eps, i < n - 1));
        }
        this.convNormOut = new GroupNorm(p.child("conv_norm_out"), groups, ch.get(0), eps);
        this.convOut = new Conv2d(p.child("conv_out"), ch.get(0), c.outChannels(), 3, 1, 1);
    }

    /** z [B, latent, h, w] -> image [B, 3, 8h, 8w]. */
    public Tensor forward(Tensor z) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor in = convIn.forward(z);           // [B, Clast, h, w]
            Tensor h = midBlock.forward(in);         // [B, Clast, h, w]
            scope.release(in);
            for (UpDecoderBlock2D block : upBlocks) {
                Tensor next = block.forward(h);      // ... [B, Ci, h*2^i, w*2^i]
                scope.release(h, next);
                h = next;
            }
            Tensor n = convNormOut.forwardSilu(h);   // [B, C0, 8h, 8w]
            scope.release(h);
            return scope.keep(convOut.forward(n));   // [B, 3, 8h, 8w]
        }
    }
}
