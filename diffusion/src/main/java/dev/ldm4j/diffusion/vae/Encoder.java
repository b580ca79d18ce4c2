// diffusers' Encoder of the KL autoencoder: conv_in, DownEncoderBlock2Ds (halving the resolution in
// all but the last), the mid block with attention, conv_norm_out + SiLU, conv_out to 2 * latent
// channels (the posterior's mean and log-variance, "double_z").
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Conv2d;
import dev.ldm4j.nn.GroupNorm;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;

public final class Encoder {
    static final float EPS = 1e-6f;

    private final Conv2d convIn;
    private final List<DownEncoderBlock2D> downBlocks = new ArrayList<>();
    private final UNetMidBlock2D midBlock;
    private final GroupNorm convNormOut;
    private final Conv2d convOut;

    public Encoder(Params p, VaeConfig c) {
        List<Integer> ch = c.blockOutChannels();
        int n = ch.size();
        int groups = c.normNumGroups();
        this.convIn = new Conv2d(p.child("conv_in"), c.inChannels(), ch.get(0), 3, 1, 1);
        int out = ch.get(0);
        for (int i = 0; i < n; i++) {
            int in = out;
            out = ch.get(i);
            downBlocks.add(new DownEncoderBlock2D(p.child("down_blocks").child(i), c.layersPerBlock(), in, out, groups, EPS, i < n - 1));
        }
        this.midBlock = new UNetMidBlock2D(p.child("mid_block"), ch.get(n - 1), groups, EPS, c.midBlockAddAttention());
        this.convNormOut = new GroupNorm(p.child("conv_norm_out"), groups, ch.get(n - 1), EPS);
        this.convOut = new Conv2d(p.child("conv_out"), ch.get(n - 1), 2 * c.latentChannels(), 3, 1, 1);
    }

    /** image [B, 3, H, W] -> moments [B, 2 * latent, H/8, W/8]. */
    public Tensor forward(Tensor x) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor h = convIn.forward(x);            // [B, C0, H, W]
            for (DownEncoderBlock2D block : downBlocks) {
                Tensor next = block.forward(h);      // [B, Ci, H/2^i, W/2^i] ...
                scope.release(h, next);
                h = next;
            }
            Tensor m = midBlock.forward(h);          // [B, Clast, H/8, W/8]
            scope.release(h);
            Tensor n = convNormOut.forwardSilu(m);   // [B, Clast, H/8, W/8]
            scope.release(m);
            return scope.keep(convOut.forward(n));   // [B, 2 * latent, H/8, W/8]
        }
    }
}
