// The base of backends that wrap another (profiling, release checking): every op goes to the inner
// backend through one method, op(name, flops, call, reads...), which a wrapper overrides to time, count
// or check it. Names are per op, with the kernel's shape where it matters (conv2d 3x3, attention (self));
// flops are the multiply-adds of the products times two (0 for other ops). Memory methods (release, the
// device's peak) and close go straight to the inner backend; record is not forwarded (a wrapper that
// looks at each op cannot see inside a replay), so wrapped backends run op by op.
package dev.ldm4j.tensor;

import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

public abstract class ForwardingBackend implements Backend {
    protected final Backend inner;

    protected ForwardingBackend(Backend inner) {
        this.inner = inner;
    }

    /** Runs call, the op name of the inner backend reading the tensors reads (nulls allowed), doing flops floating-point operations. */
    protected abstract Tensor op(String name, long flops, Supplier<Tensor> call, Tensor... reads);

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public Device device() {
        return inner.device();
    }

    @Override
    public Tensor toDevice(Tensor host) {
        return op("toDevice", 0, () -> inner.toDevice(host), host);
    }

    @Override
    public Tensor toDeviceWeight(Tensor host) {
        return op("toDeviceWeight", 0, () -> inner.toDeviceWeight(host), host);
    }

    @Override
    public Tensor toHost(Tensor t) {
        return op("toHost", 0, () -> inner.toHost(t), t);
    }

    @Override
    public Tensor contiguous(Tensor t) {
        return op("contiguous", 0, () -> inner.contiguous(t), t);
    }

    /**
     * count() where the arguments' shapes allow it, else 0: a malformed call must reach the inner backend,
     * whose message names what is wrong, rather than fail here while counting.
     */
    private static long flops(LongSupplier count) {
        try {
            return count.getAsLong();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        // 2 M N K per output batch: every output element is a K-long dot product.
        long flops = flops(() -> {
            int[] out = new int[Math.max(a.rank(), b.rank())];
            out[out.length - 2] = a.dim(-2);
            out[out.length - 1] = b.dim(-1);
            for (int i = 0; i < out.length - 2; i++) {
                int ai = i - (out.length - a.rank());
                int bi = i - (out.length - b.rank());
                out[i] = Math.max(ai >= 0 ? a.dim(ai) : 1, bi >= 0 ? b.dim(bi) : 1);
            }
            return 2L * Tensor.numel(out) * a.dim(-1);
        });
        return op("matmul", flops, () -> inner.matmul(a, b), a, b);
    }

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias, Activation act) {
        return op("linear", flops(() -> 2L * x.numel() * w.dim(0)), () -> inner.linear(x, w, bias, act), x, w, bias);
    }

    @Override
    public Tensor linearAdd(Tensor x, Tensor w, Tensor bias, Tensor residual) {
        return op("linear+add", flops(() -> 2L * x.numel() * w.dim(0)), () -> inner.linearAdd(x, w, bias, residual), x, w, bias, residual);
    }

    @Override
    public Tensor linearGeglu(Tensor x, Tensor w, Tensor bias) {
        return op("linear+geglu", flops(() -> 2L * x.numel() * w.dim(0)), () -> inner.linearGeglu(x, w, bias), x, w, bias);
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        return op(convName(w, stride), flops(() -> convFlops(x, w, stride, padTop, padBottom, padLeft, padRight)),
                () -> inner.conv2d(x, w, bias, stride, padTop, padBottom, padLeft, padRight), x, w, bias);
    }

    @Override
    public Tensor conv2dAdd(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor residual) {
        return op(convName(w, stride) + "+add", flops(() -> convFlops(x, w, stride, padTop, padBottom, padLeft, padRight)),
                () -> inner.conv2dAdd(x, w, bias, stride, padTop, padBottom, padLeft, padRight, residual), x, w, bias, residual);
    }

    private static String convName(Tensor w, int stride) {
        if (w.rank() != 4) {
            return "conv2d";
        }
        return w.dim(2) == 1 && w.dim(3) == 1 ? "conv2d 1x1" : "conv2d " + w.dim(2) + "x" + w.dim(3) + (stride == 1 ? "" : " s" + stride);
    }

    private static long convFlops(Tensor x, Tensor w, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        int oh = (x.dim(2) + padTop + padBottom - w.dim(2)) / stride + 1;
        int ow = (x.dim(3) + padLeft + padRight - w.dim(3)) / stride + 1;
        return 2L * x.dim(0) * oh * ow * w.numel();
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        return op(silu ? "groupNorm+silu" : "groupNorm", 0, () -> inner.groupNorm(x, groups, gamma, beta, eps, silu), x, gamma, beta);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        return op("layerNorm", 0, () -> inner.layerNorm(x, gamma, beta, eps), x, gamma, beta);
    }

    @Override
    public Tensor softmax(Tensor x) {
        return op("softmax", 0, () -> inner.softmax(x), x);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        long flops = flops(() -> 4L * q.dim(0) * q.dim(1) * k.dim(1) * q.dim(2));
        String name = q.rank() == 3 && k.rank() == 3 && k.dim(1) != q.dim(1) ? "attention (cross)" : "attention (self)";
        return op(name, flops,
                () -> inner.attention(q, k, v, heads, scale, causal), q, k, v);
    }

    @Override
    public Tensor activation(Tensor x, Activation act) {
        return op("activation", 0, () -> inner.activation(x, act), x);
    }

    @Override
    public Tensor geglu(Tensor x) {
        return op("geglu", 0, () -> inner.geglu(x), x);
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return op("add", 0, () -> inner.add(a, b), a, b);
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return op("sub", 0, () -> inner.sub(a, b), a, b);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return op("mul", 0, () -> inner.mul(a, b), a, b);
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        return op("scale", 0, () -> inner.scale(x, s), x);
    }

    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        return op("clamp", 0, () -> inner.clamp(x, lo, hi), x);
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        return op("upsampleNearest2x", 0, () -> inner.upsampleNearest2x(x), x);
    }

    @Override
    public Tensor concat(int dim, Tensor... parts) {
        return op("concat", 0, () -> inner.concat(dim, parts), parts);
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift) {
        return op("timestepEmbedding", 0, () -> inner.timestepEmbedding(timesteps, dim, flipSinToCos, downscaleFreqShift));
    }

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        return op("embedding", 0, () -> inner.embedding(table, ids), table);
    }

    @Override
    public Tensor sum(Tensor x, int dim) {
        return op("sum", 0, () -> inner.sum(x, dim), x);
    }

    @Override
    public Tensor mean(Tensor x, int dim) {
        return op("mean", 0, () -> inner.mean(x, dim), x);
    }

    @Override
    public Tensor upsampleNearest(Tensor x, int outH, int outW) {
        return op("upsampleNearest", 0, () -> inner.upsampleNearest(x, outH, outW), x);
    }

    /** op() for the backward primitives that return several gradients: the first one stands for the result. */
    private Tensor[] opMulti(String name, long flops, Supplier<Tensor[]> call, Tensor... reads) {
        Tensor[][] all = new Tensor[1][];
        op(name, flops, () -> (all[0] = call.get())[0], reads);
        return all[0];
    }

    @Override
    public Tensor conv2dBackwardInput(Tensor dy, Tensor w, int inH, int inW, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        return op(convName(w, stride) + " backward input", flops(() -> 2L * dy.numel() / dy.dim(1) * w.numel()),
                () -> inner.conv2dBackwardInput(dy, w, inH, inW, stride, padTop, padBottom, padLeft, padRight), dy, w);
    }

    @Override
    public Tensor conv2dBackwardWeight(Tensor x, Tensor dy, int kh, int kw, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        return op("conv2d " + kh + "x" + kw + (stride == 1 ? "" : " s" + stride) + " backward weight",
                flops(() -> 2L * dy.numel() * x.dim(1) * kh * kw),
                () -> inner.conv2dBackwardWeight(x, dy, kh, kw, stride, padTop, padBottom, padLeft, padRight), x, dy);
    }

    @Override
    public Tensor[] groupNormBackward(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu, Tensor dy) {
        return opMulti(silu ? "groupNorm+silu backward" : "groupNorm backward", 0,
                () -> inner.groupNormBackward(x, groups, gamma, beta, eps, silu, dy), x, gamma, beta, dy);
    }

    @Override
    public Tensor[] layerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy) {
        return opMulti("layerNorm backward", 0, () -> inner.layerNormBackward(x, gamma, eps, dy), x, gamma, dy);
    }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor dy) {
        return op("softmax backward", 0, () -> inner.softmaxBackward(y, dy), y, dy);
    }

    @Override
    public Tensor[] attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor dOut, int heads, float scale, boolean causal) {
        // The forward's two products recomputed, plus dV, dP, dQ and dK: 5 products of 2 Lq Lk D each.
        long flops = flops(() -> 10L * q.dim(0) * q.dim(1) * k.dim(1) * q.dim(2));
        return opMulti("attention backward", flops, () -> inner.attentionBackward(q, k, v, out, dOut, heads, scale, causal), q, k, v, out, dOut);
    }

    @Override
    public Tensor activationBackward(Tensor x, Tensor dy, Activation act) {
        return op("activation backward", 0, () -> inner.activationBackward(x, dy, act), x, dy);
    }

    @Override
    public Tensor gegluBackward(Tensor x, Tensor dy) {
        return op("geglu backward", 0, () -> inner.gegluBackward(x, dy), x, dy);
    }

    @Override
    public Tensor upsampleNearestBackward(Tensor dy, int inH, int inW) {
        return op("upsampleNearest backward", 0, () -> inner.upsampleNearestBackward(dy, inH, inW), dy);
    }

    @Override
    public Tensor embeddingBackward(Tensor dy, int[] ids, int rows) {
        return op("embedding backward", 0, () -> inner.embeddingBackward(dy, ids, rows), dy);
    }

    @Override
    public Tensor zeros(int... shape) {
        return op("zeros", 0, () -> inner.zeros(shape));
    }

    @Override
    public void accumulate(Tensor target, Tensor src) {
        op("accumulate", 0, () -> {
            inner.accumulate(target, src);
            return target;
        }, target, src);
    }

    @Override
    public void release(Tensor t) {
        inner.release(t);
    }

    /** The inner backend decides (a recording one may checkpoint); the block's ops still come through this wrapper. */
    @Override
    public Tensor checkpoint(Function<Tensor[], Tensor> block, Tensor... inputs) {
        return inner.checkpoint(block, inputs);
    }

    @Override
    public long peakDeviceMemoryBytes() {
        return inner.peakDeviceMemoryBytes();
    }

    @Override
    public void close() {
        inner.close();
    }
}
