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
import dev.ldm4j.tensor.TensorScope;

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
    private CrossAttentionProbe probe;
    private String block;

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

    /** Where the blocks show their cross-attention probabilities (UNet2DConditionModel.listenToCrossAttention). */
    void probe(CrossAttentionProbe p, String blockName) {
        this.probe = p;
        this.block = blockName;
    }

    /** x [B, C, H, W], context [B, 77, Cctx] -> [B, C, H, W]. One unit of gradient checkpointing (Backend.checkpoint). */
    public Tensor forward(Tensor x, Tensor context) {
        return backend.checkpoint(in -> compute(in[0], in[1]), x, context);
    }

    private Tensor compute(Tensor x, Tensor context) {
        int b = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        try (TensorScope scope = TensorScope.open()) {
            Tensor n = norm.forward(x);                                                  // [B, C, H, W]
            Tensor t;
            if (useLinearProjection) {
                Tensor tokens = backend.contiguous(n.reshape(b, c, h * w).transpose(1, 2)); // [B, HW, C]
                scope.release(n, tokens);
                t = projInLinear.forward(tokens);                                        // [B, HW, inner]
                scope.release(tokens);
            } else {
                Tensor map = projInConv.forward(n);                                      // [B, inner, H, W]
                scope.release(n);
                t = backend.contiguous(map.reshape(b, inner, h * w).transpose(1, 2));    // [B, HW, inner]
                scope.release(map, t);
            }
            for (BasicTransformerBlock block : transformerBlocks) {
                Tensor next = block.forward(t, context, probe, this.block, h, w);                    // [B, HW, inner]
                scope.release(t);
                t = next;
            }
            if (useLinearProjection) {
                Tensor tokens = projOutLinear.forward(t);                                // [B, HW, C]
                scope.release(t);
                Tensor map = backend.contiguous(tokens.transpose(1, 2)).reshape(b, c, h, w); // [B, C, H, W]
                scope.release(tokens, map);
                return scope.keep(backend.add(map, x));                                  // [B, C, H, W]
            }
            Tensor map = backend.contiguous(t.transpose(1, 2)).reshape(b, inner, h, w);  // [B, inner, H, W]
            scope.release(t, map);
            return scope.keep(projOutConv.forwardAdd(map, x));                           // [B, C, H, W] = proj_out(map) + x
        }
    }
}
