// diffusers' DownBlock2D: ResnetBlock2Ds without attention, then an optional Downsample2D (SD's
// deepest down block has neither attention nor downsampler).
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.nn.Downsample2D;
import dev.ldm4j.nn.Params;
import dev.ldm4j.nn.ResnetBlock2D;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

public final class DownBlock2D implements DownBlock {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final Downsample2D downsampler;

    public DownBlock2D(Params p, UNetConfig c, int block, int inChannels, int outChannels, boolean addDownsample) {
        for (int j = 0; j < c.layersPerBlock().get(block); j++) {
            resnets.add(new ResnetBlock2D(p.child("resnets").child(j), j == 0 ? inChannels : outChannels, outChannels,
                    c.timeEmbedDim(), c.normNumGroups(), (float) c.normEps()));
        }
        this.downsampler = addDownsample
                ? new Downsample2D(p.child("downsamplers").child(0), outChannels, c.downsamplePadding()) : null;
    }

    @Override
    public Tensor forward(Tensor h, Tensor temb, Tensor context, Deque<Tensor> skips) {
        try (TensorScope scope = TensorScope.open()) {
            for (ResnetBlock2D resnet : resnets) {
                h = resnet.forward(h, temb);     // [B, Cout, H, W]
                skips.push(scope.keep(h));
            }
            if (downsampler != null) {
                h = downsampler.forward(h);      // [B, Cout, H/2, W/2]
                skips.push(scope.keep(h));
            }
            return h;
        }
    }
}
