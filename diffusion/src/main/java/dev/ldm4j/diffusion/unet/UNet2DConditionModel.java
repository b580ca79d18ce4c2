// diffusers' UNet2DConditionModel for SD 1.x/2.x: the noise (or v) predictor of latent diffusion
// (Rombach et al. 2022, Fig. 3). The timestep becomes sinusoidal features and the time_embedding MLP;
// conv_in lifts the latent to block_out_channels[0]; the down path halves the resolution per block
// (rounding up) and keeps its intermediate features on a skip stack; the mid block works at the lowest
// resolution; the up path brings it back level by level to each skip's size (diffusers' upsample_size),
// concatenating one skip tensor before each resnet; conv_norm_out, SiLU and conv_out return to the
// latent channels. Cross attention reads the text context in every Transformer2DModel. A U-Net with
// time_cond_proj_dim (LCM-distilled) also takes a timestep condition, the embedded guidance scale, which
// time_embedding adds to the time projection (GuidanceScaleEmbedding makes it).
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.nn.Conv2d;
import dev.ldm4j.nn.GroupNorm;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.function.Consumer;

public final class UNet2DConditionModel {
    private final UNetConfig config;
    private final Backend backend;
    private final TimestepEmbedding timeEmbedding;
    private final Conv2d convIn;
    private final List<DownBlock> downBlocks = new ArrayList<>();
    private final UNetMidBlock2DCrossAttn midBlock;
    private final List<UpBlock> upBlocks = new ArrayList<>();
    private final GroupNorm convNormOut;
    private final Conv2d convOut;
    private final CrossAttentionProbe probe;

    /** Builds the model from weights in diffusers naming (the unet/ folder's tensors, no prefix). */
    public UNet2DConditionModel(Params p, UNetConfig c) {
        this.config = c;
        this.backend = p.backend();
        List<Integer> ch = c.blockOutChannels();
        int n = c.blocks();
        this.timeEmbedding = new TimestepEmbedding(p.child("time_embedding"), ch.get(0), c.timeEmbedDim(), c.timeCondProjDim());
        this.convIn = new Conv2d(p.child("conv_in"), c.inChannels(), ch.get(0), 3, 1, 1);

        int out = ch.get(0);
        for (int i = 0; i < n; i++) {
            int in = out;
            out = ch.get(i);
            boolean last = i == n - 1;
            Params b = p.child("down_blocks").child(i);
            downBlocks.add(c.downBlockTypes().get(i).equals("CrossAttnDownBlock2D")
                    ? new CrossAttnDownBlock2D(b, c, i, in, out, !last)
                    : new DownBlock2D(b, c, i, in, out, !last));
        }

        this.midBlock = new UNetMidBlock2DCrossAttn(p.child("mid_block"), c, ch.get(n - 1));

        out = ch.get(n - 1);
        for (int i = 0; i < n; i++) {
            int block = n - 1 - i;                    // the down block this up block mirrors
            int prev = out;
            out = ch.get(block);
            int in = ch.get(Math.max(block - 1, 0));  // channels of the skip from the level above
            boolean last = i == n - 1;
            Params b = p.child("up_blocks").child(i);
            upBlocks.add(c.upBlockTypes().get(i).equals("CrossAttnUpBlock2D")
                    ? new CrossAttnUpBlock2D(b, c, block, in, prev, out, !last)
                    : new UpBlock2D(b, c, block, in, prev, out, !last));
        }

        this.convNormOut = new GroupNorm(p.child("conv_norm_out"), c.normNumGroups(), ch.get(0), (float) c.normEps());
        this.convOut = new Conv2d(p.child("conv_out"), ch.get(0), c.outChannels(), 3, 1, 1);
        this.probe = new CrossAttentionProbe(backend);
        for (int i = 0; i < n; i++) {
            String down = "down_blocks." + i;
            String up = "up_blocks." + i;
            if (downBlocks.get(i) instanceof CrossAttnDownBlock2D a) {
                a.attentions().forEach(t -> t.probe(probe, down));
            }
            if (upBlocks.get(i) instanceof CrossAttnUpBlock2D a) {
                a.attentions().forEach(t -> t.probe(probe, up));
            }
        }
        midBlock.attentions().forEach(t -> t.probe(probe, "mid_block"));
    }

    /**
     * With a listener, every later call also hands it, layer by layer in forward order, the cross-attention probabilities
     * of batch rows [fromRow, fromRow + rows) averaged over heads (CrossAttentionMap; DAAM, Tang et al. 2023). They are
     * computed apart from the fused attention, at the cost of a second q and k projection and a softmax for those rows;
     * a listener of null turns it off, and off it costs nothing. A recorded call (Backend.record) does not call back.
     */
    public void listenToCrossAttention(Consumer<CrossAttentionMap> listener, int fromRow, int rows) {
        probe.set(listener, fromRow, rows);
    }

    public UNetConfig config() {
        return config;
    }

    /**
     * One model call: sample [B, in, h, w] (any h, w of at least 1, as diffusers: a side that is not a multiple
     * of 2^(blocks-1) rounds up on the way down and comes back to the skip's size on the way up), timesteps
     * one per batch row (or one for all rows), context [B, L, cross_attention_dim] -> [B, out, h, w].
     */
    public Tensor forward(Tensor sample, float[] timesteps, Tensor context) {
        return forward(sample, timesteps, context, null);
    }

    /**
     * As forward(sample, timesteps, context), with diffusers' timestep_cond: timestepCond [B,
     * time_cond_proj_dim] (the embedded guidance scale of an LCM U-Net), or null for none.
     */
    public Tensor forward(Tensor sample, float[] timesteps, Tensor context, Tensor timestepCond) {
        checkInputs(sample, timesteps, context, timestepCond);
        try (TensorScope scope = TensorScope.open()) {
            return scope.keep(forwardProjected(sample, timeProjection(timesteps, sample.dim(0)), context, timestepCond));
        }
    }

    /** diffusers' time_proj: the sinusoidal embedding of the timesteps, [B, C0] (one timestep for all rows, or one per row). */
    public Tensor timeProjection(float[] timesteps, int batch) {
        float[] t = timesteps.length == batch ? timesteps : filled(batch, timesteps[0]);
        return backend.timestepEmbedding(t, config.blockOutChannels().get(0), config.flipSinToCos(), config.freqShift());
    }

    /**
     * The model after time_proj: sample [B, in, h, w], tProj [B, C0] from timeProjection, context
     * [B, L, D] -> [B, out, h, w]. Everything here is device work on device tensors, so a backend can
     * record it once and replay it each step (Backend.record). Every intermediate is freed on return
     * (TensorScope): the skip tensors when the call ends, the others as soon as they are consumed.
     */
    public Tensor forwardProjected(Tensor sample, Tensor tProj, Tensor context) {
        return forwardProjected(sample, tProj, context, null);
    }

    /** forwardProjected with timestepCond [B, time_cond_proj_dim] added through time_embedding.cond_proj (null: none). */
    public Tensor forwardProjected(Tensor sample, Tensor tProj, Tensor context, Tensor timestepCond) {
        probe.startCall();
        try (TensorScope scope = TensorScope.open()) {
            Tensor temb = timeEmbedding.forward(tProj, timestepCond);      // [B, 4 C0]
            Tensor h = convIn.forward(sample);                             // [B, C0, h, w]
            Deque<Tensor> skips = new ArrayDeque<>();
            skips.push(h);
            for (DownBlock block : downBlocks) {
                h = block.forward(h, temb, context, skips);                // [B, Ci, ceil(h/2^i), ceil(w/2^i)] ... (on the skip stack)
            }
            Tensor m = midBlock.forward(h, temb, context);                 // [B, Clast, h/8, w/8] (SD, 4 blocks; rounded up)
            // diffusers forwards the skip's size to each upsampler only when a side of the sample is not a
            // multiple of 2^(blocks-1) (forward_upsample_size); otherwise the skip is exactly twice the size
            // and its plain 2x gives the same result. The up blocks always resize to the skip's size.
            for (UpBlock block : upBlocks) {
                Tensor next = block.forward(m, temb, context, skips);      // ... back up to [B, C0, h, w]
                scope.release(m, next);
                m = next;
            }
            Tensor n = convNormOut.forwardSilu(m);                         // [B, C0, h, w]
            scope.release(m);
            return scope.keep(convOut.forward(n));                         // [B, out, h, w]
        }
    }

    private void checkInputs(Tensor sample, float[] timesteps, Tensor context, Tensor timestepCond) {
        if (sample.rank() != 4 || sample.dim(1) != config.inChannels() || sample.dim(2) < 1 || sample.dim(3) < 1) {
            throw new IllegalArgumentException("unet: sample must be [B, " + config.inChannels() + ", h, w] with h and w positive, got "
                    + Arrays.toString(sample.shape()));
        }
        int b = sample.dim(0);
        if (timesteps.length != b && timesteps.length != 1) {
            throw new IllegalArgumentException("unet: " + timesteps.length + " timesteps for a batch of " + b + " (give one per row, or one for all)");
        }
        if (context.rank() != 3 || context.dim(0) != b || context.dim(2) != config.crossAttentionDim()) {
            throw new IllegalArgumentException("unet: context must be [" + b + ", L, " + config.crossAttentionDim() + "], got "
                    + Arrays.toString(context.shape()));
        }
        if (timestepCond != null && !config.hasGuidanceEmbedding()) {
            throw new IllegalArgumentException("unet: a timestep condition was given, but this U-Net has no time_cond_proj_dim");
        }
        if (timestepCond != null && (timestepCond.rank() != 2 || timestepCond.dim(0) != b || timestepCond.dim(1) != config.timeCondProjDim())) {
            throw new IllegalArgumentException("unet: timestep condition must be [" + b + ", " + config.timeCondProjDim() + "], got "
                    + Arrays.toString(timestepCond.shape()));
        }
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }
}
