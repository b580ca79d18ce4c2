// diffusers' CrossAttnDownBlock2D: pairs of ResnetBlock2D and Transformer2DModel (cross attention on
// the text context), then an optional Downsample2D.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.nn.Downsample2D;
import dev.ldm4j.nn.Params;
import dev.ldm4j.nn.ResnetBlock2D;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

public final class CrossAttnDownBlock2D implements DownBlock {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final List<Transformer2DModel> attentions = new ArrayList<>();
    private final Downsample2D downsampler;

    public CrossAttnDownBlock2D(Params p, UNetConfig c, int block, int inChannels, int outChannels, boolean addDownsample) {
        int heads = c.headsPerBlock(block);
        for (int j = 0; j < c.layersPerBlock().get(block); j++) {
            resnets.add(new ResnetBlock2D(p.child("resnets").child(j), j == 0 ? inChannels : outChannels, outChannels,
                    c.timeEmbedDim(), c.normNumGroups(), (float) c.normEps()));
            attentions.add(new Transformer2DModel(p.child("attentions").child(j), heads, outChannels / heads, outChannels,
                    c.transformerLayersPerBlock().get(block), c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection()));
        }
        this.downsampler = addDownsample
                ? new Downsample2D(p.child("downsamplers").child(0), outChannels, c.downsamplePadding()) : null;
    }

    @Override
    public Tensor forward(Tensor h, Tensor temb, Tensor context, Deque<Tensor> skips) {
        try (TensorScope scope = TensorScope.open()) {
            for (int j = 0; j < resnets.size(); j++) {
                Tensor r = resnets.get(j).forward(h, temb);    // [B, Cout, H, W]
                h = attentions.get(j).forward(r, context);     // [B, Cout, H, W]
                scope.release(r);
                skips.push(scope.keep(h));
            }
            if (downsampler != null) {
                h = downsampler.forward(h);                    // [B, Cout, H/2, W/2]
                skips.push(scope.keep(h));
            }
            return h;
        }
    }

    /** The block's spatial transformers, in forward order. */
    List<Transformer2DModel> attentions() {
        return attentions;
    }
}
