// The set of primitives a device implements. Model code calls only these, so the same U-Net runs on
// the CPU backend and on the CUDA backend. Every op is a pure function of its inputs: it allocates
// its result and never mutates an argument.
//
// Conventions: activations are F32 tensors on this backend's device. Weight arguments (w, gamma,
// beta, bias, table) may be F32, F16 or BF16; ops widen them to F32 as they read. Views (strided,
// broadcast) are accepted everywhere; results are always dense and row-major.
package dev.ldm4j.tensor;

public interface Backend extends AutoCloseable {
    /** "cpu" or "cuda". */
    String name();

    Device device();

    /** Copies a host tensor to this device, keeping its dtype (F16 weights stay F16). Identity on the CPU. */
    Tensor toDevice(Tensor host);

    /**
     * A model parameter on this device. Like toDevice, except that a device may keep it in the dtype its
     * matrix products read (the CUDA backend's FP16/BF16 modes store matrices, rank >= 2, only as
     * F16/BF16, converted once here), so a loaded model holds one copy of each weight.
     */
    default Tensor toDeviceWeight(Tensor host) {
        return toDevice(host);
    }

    /**
     * Records body(inputs') for replay, where inputs' are the recording's own copies of inputs; null when
     * this device cannot record (the default). body must only call ops of this backend on device
     * tensors (no host transfers) and must not depend on values that change between runs other than
     * through the inputs. A device that can record but fails to (for example an op that synchronizes)
     * throws, and the caller runs body directly instead. Every tensor the body reads besides its inputs
     * (weights, a context captured by the body) must stay unreleased while the recording lives: a replay
     * reads their memory without any check. TensorScope is suspended while recording, so the recording's
     * buffers belong to no scope of the caller.
     */
    default Recording record(java.util.function.Function<Tensor[], Tensor> body, Tensor... inputs) {
        return null;
    }

    /**
     * linear(x, w, bias, NONE) + residual, residual shaped like the result: a transformer block's output
     * projection and its skip connection. A device may add the residual in the product's epilogue (the
     * same two roundings, so the same numbers), saving a pass over the activations.
     */
    default Tensor linearAdd(Tensor x, Tensor w, Tensor bias, Tensor residual) {
        return add(linear(x, w, bias, Activation.NONE), residual);
    }

    /** conv2d(x, w, bias, stride, pads) + residual, residual shaped like the result: a ResNet block's second conv and its shortcut. */
    default Tensor conv2dAdd(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor residual) {
        return add(conv2d(x, w, bias, stride, padTop, padBottom, padLeft, padRight), residual);
    }

    /**
     * geglu(linear(x, w, bias, NONE)): GEGLU's projection to [..., 2F] and its gate in one op, so a device
     * can apply the gate in the product's epilogue and never write the [..., 2F] projection.
     */
    default Tensor linearGeglu(Tensor x, Tensor w, Tensor bias) {
        return geglu(linear(x, w, bias, Activation.NONE));
    }

    /** A dense host F32 copy of t (widening F16/BF16). */
    Tensor toHost(Tensor t);

    /** A dense F32 tensor on this device with t's logical contents (t itself when already dense F32). */
    Tensor contiguous(Tensor t);

    /** [..., M, K] x [..., K, N] -> [..., M, N]; leading batch dimensions broadcast. */
    Tensor matmul(Tensor a, Tensor b);

    /** PyTorch linear: x [..., K], w [N, K], bias [N] or null -> act(x w^T + bias) [..., N]. */
    Tensor linear(Tensor x, Tensor w, Tensor bias, Activation act);

    /**
     * Cross-correlation as torch.nn.functional.conv2d with zero padding: x [N, C, H, W],
     * w [O, C, kh, kw], bias [O] or null -> [N, O, (H + pt + pb - kh) / s + 1, (W + pl + pr - kw) / s + 1].
     */
    Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight);

    /** conv2d with the same padding on every side. */
    default Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding) {
        return conv2d(x, w, bias, stride, padding, padding, padding, padding);
    }

    /**
     * Group norm over x [N, C, *] with C divisible by groups; statistics per (n, group) over all of
     * the group's channels and positions, biased variance; then per-channel gamma [C] and beta [C];
     * then SiLU when silu is true.
     */
    Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu);

    /** Layer norm over the last dimension, biased variance, gamma and beta of that size. */
    Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps);

    /** Softmax over the last dimension. */
    Tensor softmax(Tensor x);

    /**
     * Multi-head scaled dot-product attention in the token-major layout the linear layers produce:
     * q [B, Lq, H*D], k and v [B, Lk, H*D] -> [B, Lq, H*D], where for each head h the columns
     * h*D..h*D+D-1 hold that head. softmax(q k^T * scale) v, with query i seeing only keys j <= i
     * when causal. Implementations must not materialize the whole [Lq, Lk] score matrix.
     */
    Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal);

    /** Pointwise activation. */
    Tensor activation(Tensor x, Activation act);

    /** GEGLU: x [..., 2F] -> x[..., :F] * gelu(x[..., F:]) with exact GELU. */
    Tensor geglu(Tensor x);

    /** a + b with broadcasting (numpy rules). */
    Tensor add(Tensor a, Tensor b);

    /** a - b with broadcasting. */
    Tensor sub(Tensor a, Tensor b);

    /** a * b with broadcasting. */
    Tensor mul(Tensor a, Tensor b);

    /** x * s. */
    Tensor scale(Tensor x, float s);

    /** min(max(x, lo), hi). */
    Tensor clamp(Tensor x, float lo, float hi);

    /** Nearest-neighbour 2x upsampling: [N, C, H, W] -> [N, C, 2H, 2W]. */
    Tensor upsampleNearest2x(Tensor x);

    /** Concatenation along dim; all other dimensions equal. */
    Tensor concat(int dim, Tensor... parts);

    /**
     * Sinusoidal timestep embedding as diffusers' get_timestep_embedding with max_period 10000:
     * freq_i = exp(-ln(10000) * i / (dim/2 - downscaleFreqShift)), i < dim/2;
     * row = [sin(t freq), cos(t freq)], or [cos, sin] when flipSinToCos; zero-padded when dim is odd.
     * Returns [timesteps.length, dim].
     */
    Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift);

    /** Rows of table [V, D] picked by ids -> [ids.length, D]. */
    Tensor embedding(Tensor table, int[] ids);

    /** Sum over one dimension, which is kept with size 1. */
    Tensor sum(Tensor x, int dim);

    /** Mean over one dimension, which is kept with size 1. */
    Tensor mean(Tensor x, int dim);

    /**
     * Nearest-neighbour resize of [N, C, H, W] to [N, C, outH, outW] as PyTorch's interpolate(mode="nearest")
     * with a given size: output row i reads source row floor(i * H / outH) (computed as PyTorch does, with
     * the scale H / outH and the product in float, clamped to H - 1; exactly i / 2 when outH = 2H), columns
     * likewise. The U-Net's upsamplers use it when a latent side is not a multiple of 2^(levels-1), so that
     * each level comes back to its skip's size (diffusers' upsample_size).
     */
    default Tensor upsampleNearest(Tensor x, int outH, int outW) {
        if (x.rank() == 4 && outH == 2 * x.dim(2) && outW == 2 * x.dim(3)) {
            return upsampleNearest2x(x);
        }
        throw unsupported("upsampleNearest to " + outH + "x" + outW);
    }

    // ---- Backward primitives (training). Each takes the gradient dy of a forward op's output and returns the
    // gradients of that op's inputs, recomputing what it needs from the forward's inputs (the autograd module
    // saves those). A device without them cannot train; the defaults refuse by name.

    /**
     * Gradient of conv2d with respect to its input: dy [N, O, Ho, Wo], w [O, C, kh, kw] -> dx [N, C, inH, inW]
     * (a transposed convolution; inH, inW are the forward input's size, which the output size alone does not fix
     * when the stride is not 1).
     */
    default Tensor conv2dBackwardInput(Tensor dy, Tensor w, int inH, int inW, int stride,
                                       int padTop, int padBottom, int padLeft, int padRight) {
        throw unsupported("conv2dBackwardInput");
    }

    /** Gradient of conv2d with respect to its weight: x [N, C, H, W], dy [N, O, Ho, Wo] -> dw [O, C, kh, kw]. */
    default Tensor conv2dBackwardWeight(Tensor x, Tensor dy, int kh, int kw, int stride,
                                        int padTop, int padBottom, int padLeft, int padRight) {
        throw unsupported("conv2dBackwardWeight");
    }

    /**
     * Gradients of groupNorm(x, groups, gamma, beta, eps, silu) given dy: {dx, dgamma, dbeta}. The statistics
     * are recomputed from x; with silu the gradient first passes back through SiLU of the normalized value.
     */
    default Tensor[] groupNormBackward(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu, Tensor dy) {
        throw unsupported("groupNormBackward");
    }

    /** Gradients of layerNorm(x, gamma, beta, eps) given dy: {dx, dgamma, dbeta}. */
    default Tensor[] layerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy) {
        throw unsupported("layerNormBackward");
    }

    /** Gradient of softmax over the last dimension from its output y: dx = y * (dy - sum(dy * y, -1)). */
    default Tensor softmaxBackward(Tensor y, Tensor dy) {
        throw unsupported("softmaxBackward");
    }

    /**
     * Gradients of attention(q, k, v, heads, scale, causal) given its output out and dOut: {dq, dk, dv}, each
     * shaped like its input. Flash-style: scores are recomputed tile by tile from q and k with each row's
     * log-sum-exp; the [Lq, Lk] matrix is never stored.
     */
    default Tensor[] attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor dOut, int heads, float scale, boolean causal) {
        throw unsupported("attentionBackward");
    }

    /** Gradient of activation(x, act) given dy: dy * act'(x). */
    default Tensor activationBackward(Tensor x, Tensor dy, Activation act) {
        throw unsupported("activationBackward");
    }

    /** Gradient of geglu(x) given dy [..., F]: dx [..., 2F] (value half dy * gelu(gate), gate half dy * value * gelu'(gate)). */
    default Tensor gegluBackward(Tensor x, Tensor dy) {
        throw unsupported("gegluBackward");
    }

    /**
     * Gradient of upsampleNearest (and upsampleNearest2x) given dy [N, C, Ho, Wo]: dx [N, C, inH, inW], each
     * source element the sum of the outputs that read it (the forward's index rule from inH x inW to Ho x Wo).
     */
    default Tensor upsampleNearestBackward(Tensor dy, int inH, int inW) {
        throw unsupported("upsampleNearestBackward");
    }

    /** Gradient of embedding(table, ids) with respect to the table: dy [ids.length, D] -> [rows, D], rows summed per id. */
    default Tensor embeddingBackward(Tensor dy, int[] ids, int rows) {
        throw unsupported("embeddingBackward");
    }

    /** A dense F32 tensor of zeros on this device. */
    default Tensor zeros(int... shape) {
        throw unsupported("zeros");
    }

    /**
     * target += src, elementwise, src broadcast to target's shape. target is a view (strided, possibly with zero
     * strides) of a dense F32 buffer this backend made with zeros(); elements that a zero stride aliases receive
     * the sum of all their contributions. The one op that writes into an existing tensor: autograd uses it to
     * accumulate gradients, the optimizer's buffers are updated by their owners.
     */
    default void accumulate(Tensor target, Tensor src) {
        throw unsupported("accumulate");
    }

    private UnsupportedOperationException unsupported(String op) {
        return new UnsupportedOperationException("the " + name() + " backend has no " + op + " (training runs on the CPU backend)");
    }

    /**
     * Frees the memory of t's storage now, for reuse by later ops: t and every view of its storage must
     * not be used again. For results of this backend's ops only (never weights or a caller's inputs);
     * releasing a storage twice does nothing. A no-op where the collector manages memory (the CPU).
     * Model code rarely calls this directly: TensorScope calls it for the intermediates of a block.
     */
    default void release(Tensor t) {
    }

    /**
     * block(inputs), marked as one unit whose intermediates a recording backend may drop and recompute
     * (gradient checkpointing): model code wraps its resnet and transformer blocks in it. Every other
     * backend just runs the block. block must be deterministic and read nothing but inputs and weights.
     */
    default Tensor checkpoint(java.util.function.Function<Tensor[], Tensor> block, Tensor... inputs) {
        return block.apply(inputs);
    }

    /**
     * Runs task(0), ..., task(n - 1), as many at a time as this backend can keep apart: each task on one
     * thread, and every op a task calls runs on that thread alone (no op splits over threads). For work
     * larger than any op, such as the data-parallel replicas of a training step. The tasks may share only
     * what none of them writes. The default runs them in turn on the calling thread.
     */
    default void concurrently(int n, java.util.function.IntConsumer task) {
        for (int i = 0; i < n; i++) {
            task.accept(i);
        }
    }

    /**
     * The most device memory this backend's allocator has held at once (weights, live activations and
     * cached free blocks) since it started or its peak was last reset, in bytes; -1 where the JVM
     * manages the memory (the CPU).
     */
    default long peakDeviceMemoryBytes() {
        return -1;
    }

    /** Frees device resources; a no-op on the CPU. */
    @Override
    default void close() {
    }
}
