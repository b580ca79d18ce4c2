// diffusers' Transformer2DModel for continuous (feature map) input: the spatial transformer of the LDM
// U-Net (Rombach et al. 2022, Sec. 3.3). GroupNorm (eps 1e-6), proj_in to the inner width (a 1x1 conv
// in SD 1.x, a linear layer over tokens in SD 2.x), the feature map as H*W tokens through the
// BasicTransformerBlocks, proj_out back, plus the input as residual.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.nn.Conv2d;
import dev.ldm4j.nn.GroupNorm;
import dev.ldm4j.nn.Linear;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

public final class Transformer2DModel {
    private final Backend backend;
    private final GroupNorm norm;
    private final boolean useLinearProjection;
    private final Conv2d projInConv;
    private final Linear projInLinear;
    private final List<BasicTransformerBlock> transformerBlocks = new ArrayList<>();
    private final Conv2d projOutConv;
    private final Linear projOutLinear;
    private final int inner;

    public Transformer2DModel(Params p, int heads, int headDim, int inChannels, int layers, int crossAttentionDim,
                              int normGroups, boolean useLinearProjection) {
        this.backend = p.backend();
        this.inner = heads * headDim;
        this.useLinearProjection = useLinearProjection;
        this.norm = new GroupNorm(p.child("norm"), normGroups, inChannels, 1e-6f);
        if (useLinearProjection) {
            this.projInLinear = new Linear(p.child("proj_in"), inChannels, inner);
            this.projInConv = null;
        } else {
            this.projInConv = new Conv2d(p.child("proj_in"), inChannels, inner, 1, 1, 0);
            this.projInLinear = null;
        }
        for (int i = 0; i < layers; i++) {
            transformerBlocks.add(new BasicTransformerBlock(p.child("transformer_blocks").child(i), inner, heads, headDim, crossAttentionDim));
        }
        if (useLinearProjection) {
            this.projOutLinear = new Linear(p.child("proj_out"), inner, inChannels);
            this.projOutConv = null;
        } else {
            this.projOutConv = new Conv2d(p.child("proj_out"), inner, inChannels, 1, 1, 0);
            this.projOutLinear = null;
        }
    }

    /** x [B, C, H, W], context [B, 77, Cctx] -> [B, C, H, W]. */
    public Tensor forward(Tensor x, Tensor context) {
        int b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        Tensor t = norm.forward(x);                                                  // [B, C, H, W]
        if (useLinearProjection) {
            t = backend.contiguous(t.reshape(b, c, h * w).transpose(1, 2));          // [B, HW, C]
            t = projInLinear.forward(t);                                             // [B, HW, inner]
        } else {
            t = projInConv.forward(t);                                               // [B, inner, H, W]
            t = backend.contiguous(t.reshape(b, inner, h * w).transpose(1, 2));      // [B, HW, inner]
        }
        for (BasicTransformerBlock block : transformerBlocks) {
            t = block.forward(t, context);                                           // [B, HW, inner]
        }
        if (useLinearProjection) {
            t = projOutLinear.forward(t);                                            // [B, HW, C]
            t = backend.contiguous(t.transpose(1, 2)).reshape(b, c, h, w);           // [B, C, H, W]
            return backend.add(t, x);                                                // [B, C, H, W]
        }
        t = backend.contiguous(t.transpose(1, 2)).reshape(b, inner, h, w);           // [B, inner, H, W]
        return projOutConv.forwardAdd(t, x);                                         // [B, C, H, W] = proj_out(t) + x
    }
}
