// diffusers' UpBlock2D: layers_per_block + 1 ResnetBlock2Ds, each on the concatenation of the current
// features and one skip tensor from the down path, then an optional Upsample2D.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.nn.Params;
import dev.ldm4j.nn.ResnetBlock2D;
import dev.ldm4j.nn.Upsample2D;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

public final class UpBlock2D implements UpBlock {
    private final Backend backend;
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final Upsample2D upsampler;

    /**
     * Block i of the up path (block = the matching down block index, counted from the top). Resnet j
     * sees prevOutputChannels (j = 0) or outChannels, plus the skip's channels: inChannels for the last
     * resnet (the skip from the level above) and outChannels otherwise.
     */
    public UpBlock2D(Params p, UNetConfig c, int block, int inChannels, int prevOutputChannels, int outChannels,
                     boolean addUpsample) {
        this.backend = p.backend();
        int n = c.layersPerBlock().get(block) + 1;
        for (int j = 0; j < n; j++) {
            int skip = j == n - 1 ? inChannels : outChannels;
            int in = j == 0 ? prevOutputChannels : outChannels;
            resnets.add(new ResnetBlock2D(p.child("resnets").child(j), in + skip, outChannels, c.timeEmbedDim(),
                    c.normNumGroups(), (float) c.normEps()));
        }
        this.upsampler = addUpsample ? new Upsample2D(p.child("upsamplers").child(0), outChannels) : null;
    }

    @Override
    public Tensor forward(Tensor h, Tensor temb, Tensor context, Deque<Tensor> skips) {
        try (TensorScope scope = TensorScope.open()) {
            for (ResnetBlock2D resnet : resnets) {
                Tensor cat = backend.concat(1, h, skips.pop());  // [B, C + Cskip, H, W]
                scope.release(h);
                h = resnet.forward(cat, temb);                   // [B, Cout, H, W]
                scope.release(cat);
            }
            if (upsampler != null) {
                Tensor skip = skips.peek();                       // the next level's first skip: [B, Cs, H', W']
                Tensor up = upsampler.forward(h, skip.dim(2), skip.dim(3)); // [B, Cout, H', W'] (H' = 2H for even sizes)
                scope.release(h);
                h = up;
            }
            return scope.keep(h);
        }
    }
}
