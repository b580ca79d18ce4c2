// diffusers' UpDecoderBlock2D: ResnetBlock2Ds without time embedding (no skip connections in the VAE),
// then an optional Upsample2D.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Params;
import dev.ldm4j.nn.ResnetBlock2D;
import dev.ldm4j.nn.Upsample2D;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;

public final class UpDecoderBlock2D {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final Upsample2D upsampler;

    public UpDecoderBlock2D(Params p, int layers, int inChannels, int outChannels, int groups, float eps, boolean addUpsample) {
        for (int j = 0; j < layers; j++) {
            resnets.add(new ResnetBlock2D(p.child("resnets").child(j), j == 0 ? inChannels : outChannels, outChannels, 0, groups, eps));
        }
        this.upsampler = addUpsample ? new Upsample2D(p.child("upsamplers").child(0), outChannels) : null;
    }

    /** [B, Cin, H, W] -> [B, Cout, 2H, 2W] (or [B, Cout, H, W] without upsampler). */
    public Tensor forward(Tensor h) {
        try (TensorScope scope = TensorScope.open()) {
            for (ResnetBlock2D r : resnets) {
                Tensor next = r.forward(h, null);
                scope.release(h);
                h = next;
            }
            if (upsampler != null) {
                Tensor resized = upsampler.forward(h);
                scope.release(h);
                h = resized;
            }
            return scope.keep(h);
        }
    }
}
