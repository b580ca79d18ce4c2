// diffusers' UNetMidBlock2DCrossAttn at the bottom of the U-Net: resnets.0, then for each layer an
// attention (Transformer2DModel) and the next resnet.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.nn.Params;
import dev.ldm4j.nn.ResnetBlock2D;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;

public final class UNetMidBlock2DCrossAttn {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final List<Transformer2DModel> attentions = new ArrayList<>();

    public UNetMidBlock2DCrossAttn(Params p, UNetConfig c, int channels) {
        int last = c.blocks() - 1;
        int heads = c.headsPerBlock(last);
        float scale = (float) c.midBlockScaleFactor();
        resnets.add(new ResnetBlock2D(p.child("resnets").child(0), channels, channels, c.timeEmbedDim(),
                c.normNumGroups(), (float) c.normEps(), scale));
        attentions.add(new Transformer2DModel(p.child("attentions").child(0), heads, channels / heads, channels,
                c.transformerLayersPerBlock().get(last), c.crossAttentionDim(), c.normNumGroups(), c.useLinearProjection()));
        resnets.add(new ResnetBlock2D(p.child("resnets").child(1), channels, channels, c.timeEmbedDim(),
                c.normNumGroups(), (float) c.normEps(), scale));
    }

    /** [B, C, H, W] -> [B, C, H, W]. */
    public Tensor forward(Tensor h, Tensor temb, Tensor context) {
        try (TensorScope scope = TensorScope.open()) {
            h = resnets.get(0).forward(h, temb);
            for (int i = 0; i < attentions.size(); i++) {
                Tensor a = attentions.get(i).forward(h, context);
                scope.release(h);
                h = resnets.get(i + 1).forward(a, temb);
                scope.release(a);
            }
            return scope.keep(h);
        }
    }

    /** The block's spatial transformers, in forward order. */
    List<Transformer2DModel> attentions() {
        return attentions;
    }
}
