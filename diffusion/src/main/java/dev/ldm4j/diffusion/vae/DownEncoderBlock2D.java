// diffusers' DownEncoderBlock2D: ResnetBlock2Ds without time embedding, then an optional Downsample2D
// that pads (0, 1, 0, 1) and convolves with stride 2 (padding 0), as the KL autoencoder does.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Downsample2D;
import dev.ldm4j.nn.Params;
import dev.ldm4j.nn.ResnetBlock2D;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;

public final class DownEncoderBlock2D {
    private final List<ResnetBlock2D> resnets = new ArrayList<>();
    private final Downsample2D downsampler;

    public DownEncoderBlock2D(Params p, int layers, int inChannels, int outChannels, int groups, float eps, boolean addDownsample) {
        for (int j = 0; j < layers; j++) {
            resnets.add(new ResnetBlock2D(p.child("resnets").child(j), j == 0 ? inChannels : outChannels, outChannels, 0, groups, eps));
        }
        this.downsampler = addDownsample ? new Downsample2D(p.child("downsamplers").child(0), outChannels, 0) : null;
    }

    /** [B, Cin, H, W] -> [B, Cout, H/2, W/2] (or [B, Cout, H, W] without downsampler). */
    public Tensor forward(Tensor h) {
        try (TensorScope scope = TensorScope.open()) {
            for (ResnetBlock2D r : resnets) {
                Tensor next = r.forward(h, null);
                scope.release(h);
                h = next;
            }
            if (downsampler != null) {
                Tensor resized = downsampler.forward(h);
                scope.release(h);
                h = resized;
            }
            return scope.keep(h);
        }
    }
}
