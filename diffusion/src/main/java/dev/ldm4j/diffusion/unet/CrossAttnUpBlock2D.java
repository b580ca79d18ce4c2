// diffusers' CrossAttnUpBlock2D: layers_per_block + 1 pairs of ResnetBlock2D (on features concatenated
// with one skip tensor) and Transformer2DModel, then an optional Upsample2D.
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

public final class CrossAttnUpBlock2D implements UpBlock {
    private final Backend backend;
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final List<Transformer2DModel> attentions = new ArrayList<>();
    private final Upsample2D upsampler;

    /** Channel bookkeeping as in UpBlock2D; block is the matching down block index. */
    public CrossAttnUpBlock2D(Params p, UNetConfig c, int block, int inChannels, int prevOutputChannels, int outChannels,
                              boolean addUpsample) {
        this.backend = p.backend();
        int heads = c.headsPerBlock(block);
        int n = c.layersPerBlock().get(block) + 1;
        for (int j = 0; j < n; j++) {
            int skip = j == n - 1 ? inChannels : outChannels;
            int in = j == 0 ? prevOutputChannels : outChannels;
            resnets.add(new ResnetBlock2D(p.child("resnets").child(j), in + skip, outChannels, c.timeEmbedDim(),
                    c.normNumGroups(), (float) c.normEps()));
            attentions.add(new Transformer2DModel(p.child("attentions").child(j), heads, outChannels / heads, outChannels,
                    c.transformerLayersPerBlock().get(block), c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection()));
        }
        this.upsampler = addUpsample ? new Upsample2D(p.child("upsamplers").child(0), outChannels) : null;
    }

    @Override
    public Tensor forward(Tensor h, Tensor temb, Tensor context, Deque<Tensor> skips) {
        try (TensorScope scope = TensorScope.open()) {
            for (int j = 0; j < resnets.size(); j++) {
                Tensor cat = backend.concat(1, h, skips.pop());   // [B, C + Cskip, H, W]
                scope.release(h);
                Tensor r = resnets.get(j).forward(cat, temb);     // [B, Cout, H, W]
                scope.release(cat);
                h = attentions.get(j).forward(r, context);        // [B, Cout, H, W]
                scope.release(r);
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

    /** The block's spatial transformers, in forward order. */
    List<Transformer2DModel> attentions() {
        return attentions;
    }
}
