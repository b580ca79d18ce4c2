// diffusers' ResnetBlock2D (He et al. 2016 residual block, as used by Ho et al. 2020 "DDPM", Appendix B),
// with the "default" time-embedding mode:
//   h = conv1(SiLU(norm1(x))); h += time_emb_proj(SiLU(temb))[:, :, None, None];
//   h = conv2(SiLU(norm2(h))) (dropout is inactive at inference); out = (shortcut(x) + h) / scale,
// where shortcut is a 1x1 conv_shortcut when the channel count changes. The VAE's blocks have no
// time embedding (tembChannels 0).
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

public final class ResnetBlock2D {
    private final Backend backend;
    private final GroupNorm norm1;
    private final Conv2d conv1;
    private final Linear timeEmbProj;
    private final GroupNorm norm2;
    private final Conv2d conv2;
    private final Conv2d convShortcut;
    private final float outputScaleFactor;

    public ResnetBlock2D(Params p, int inChannels, int outChannels, int tembChannels, int groups, float eps,
                         float outputScaleFactor) {
        this.backend = p.backend();
        this.norm1 = new GroupNorm(p.child("norm1"), groups, inChannels, eps);
        this.conv1 = new Conv2d(p.child("conv1"), inChannels, outChannels, 3, 1, 1);
        this.timeEmbProj = tembChannels > 0 ? new Linear(p.child("time_emb_proj"), tembChannels, outChannels) : null;
        this.norm2 = new GroupNorm(p.child("norm2"), groups, outChannels, eps);
        this.conv2 = new Conv2d(p.child("conv2"), outChannels, outChannels, 3, 1, 1);
        this.convShortcut = inChannels != outChannels
                ? new Conv2d(p.child("conv_shortcut"), inChannels, outChannels, 1, 1, 0) : null;
        this.outputScaleFactor = outputScaleFactor;
    }

    public ResnetBlock2D(Params p, int inChannels, int outChannels, int tembChannels, int groups, float eps) {
        this(p, inChannels, outChannels, tembChannels, groups, eps, 1f);
    }

    /**
     * x [B, Cin, H, W], temb [B, T] (null without time embedding) -> [B, Cout, H, W]. The block is one
     * unit of gradient checkpointing (Backend.checkpoint).
     */
    public Tensor forward(Tensor x, Tensor temb) {
        return temb == null ? backend.checkpoint(in -> compute(in[0], null), x)
                : backend.checkpoint(in -> compute(in[0], in[1]), x, temb);
    }

    private Tensor compute(Tensor x, Tensor temb) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor n = norm1.forwardSilu(x);                                     // [B, Cin, H, W]
            Tensor h;
            if (timeEmbProj != null) {
                Tensor t = timeEmbProj.forward(backend.activation(temb, Activation.SILU)); // [B, Cout]
                h = conv1.forwardAdd(n, t.reshape(t.dim(0), t.dim(1), 1, 1));   // [B, Cout, H, W] = conv1(n) + t
            } else {
                h = conv1.forward(n);                                            // [B, Cout, H, W]
            }
            scope.release(n);
            n = norm2.forwardSilu(h);                                            // [B, Cout, H, W]
            scope.release(h);
            Tensor shortcut = convShortcut != null ? convShortcut.forward(x) : x; // [B, Cout, H, W]
            Tensor out = conv2.forwardAdd(n, shortcut);                          // [B, Cout, H, W] = conv2(n) + shortcut
            return scope.keep(outputScaleFactor == 1f ? out : backend.scale(out, 1f / outputScaleFactor));
        }
    }
}
