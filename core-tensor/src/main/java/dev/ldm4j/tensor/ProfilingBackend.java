// A Backend that forwards every op to another backend and records how often each op ran, how long
// it took and how many floating-point operations it did, to show where a run spends its time.
// Asynchronous backends (CUDA) are timed only up to the launch unless they synchronize per op.
package dev.ldm4j.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

public final class ProfilingBackend implements Backend {
    private final Backend inner;
    private final Map<String, long[]> stats = new TreeMap<>(); // op -> {calls, nanos, flops}

    public ProfilingBackend(Backend inner) {
        this.inner = inner;
    }

    private Tensor time(String op, long flops, Supplier<Tensor> body) {
        long t0 = System.nanoTime();
        Tensor out = body.get();
        long dt = System.nanoTime() - t0;
        synchronized (stats) {
            long[] s = stats.computeIfAbsent(op, k -> new long[3]);
            s[0]++;
            s[1] += dt;
            s[2] += flops;
        }
        return out;
    }

    /** One line per op, slowest first: calls, seconds, share of the profiled time, GFLOP/s where counted. */
    public String report() {
        List<Map.Entry<String, long[]>> rows;
        synchronized (stats) {
            rows = new ArrayList<>(stats.entrySet());
        }
        rows.sort((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1]));
        long total = rows.stream().mapToLong(e -> e.getValue()[1]).sum();
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-22s %8s %10s %7s %10s%n", "op", "calls", "seconds", "share", "GFLOP/s"));
        for (Map.Entry<String, long[]> e : rows) {
            long[] s = e.getValue();
            sb.append(String.format(Locale.ROOT, "%-22s %8d %10.3f %6.1f%% %10s%n", e.getKey(), s[0], s[1] / 1e9,
                    total == 0 ? 0 : 100.0 * s[1] / total, s[2] == 0 ? "" : String.format(Locale.ROOT, "%.1f", s[2] / (double) s[1])));
        }
        sb.append(String.format(Locale.ROOT, "%-22s %8s %10.3f%n", "total", "", total / 1e9));
        return sb.toString();
    }

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
        return time("toDevice", 0, () -> inner.toDevice(host));
    }

    @Override
    public Tensor toDeviceWeight(Tensor host) {
        return time("toDevice", 0, () -> inner.toDeviceWeight(host));
    }

    @Override
    public Tensor toHost(Tensor t) {
        return time("toHost", 0, () -> inner.toHost(t));
    }

    @Override
    public Tensor contiguous(Tensor t) {
        return time("contiguous", 0, () -> inner.contiguous(t));
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        // 2 M N K per output batch: every output element is a K-long dot product.
        int[] out = new int[Math.max(a.rank(), b.rank())];
        out[out.length - 2] = a.dim(-2);
        out[out.length - 1] = b.dim(-1);
        for (int i = 0; i < out.length - 2; i++) {
            int ai = i - (out.length - a.rank());
            int bi = i - (out.length - b.rank());
            out[i] = Math.max(ai >= 0 ? a.dim(ai) : 1, bi >= 0 ? b.dim(bi) : 1);
        }
        long flops = 2L * Tensor.numel(out) * a.dim(-1);
        return time("matmul", flops, () -> inner.matmul(a, b));
    }

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias, Activation act) {
        long flops = 2L * x.numel() * w.dim(0);
        return time("linear", flops, () -> inner.linear(x, w, bias, act));
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        return time(convName(w, stride), convFlops(x, w, stride, padTop, padBottom, padLeft, padRight),
                () -> inner.conv2d(x, w, bias, stride, padTop, padBottom, padLeft, padRight));
    }

    private static String convName(Tensor w, int stride) {
        return w.dim(2) == 1 && w.dim(3) == 1 ? "conv2d 1x1" : "conv2d " + w.dim(2) + "x" + w.dim(3) + (stride == 1 ? "" : " s" + stride);
    }

    private static long convFlops(Tensor x, Tensor w, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        int oh = (x.dim(2) + padTop + padBottom - w.dim(2)) / stride + 1;
        int ow = (x.dim(3) + padLeft + padRight - w.dim(3)) / stride + 1;
        return 2L * x.dim(0) * oh * ow * w.numel();
    }

    @Override
    public Tensor linearAdd(Tensor x, Tensor w, Tensor bias, Tensor residual) {
        return time("linear+add", 2L * x.numel() * w.dim(0), () -> inner.linearAdd(x, w, bias, residual));
    }

    @Override
    public Tensor linearGeglu(Tensor x, Tensor w, Tensor bias) {
        return time("linear+geglu", 2L * x.numel() * w.dim(0), () -> inner.linearGeglu(x, w, bias));
    }

    @Override
    public Tensor conv2dAdd(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor residual) {
        return time(convName(w, stride) + "+add", convFlops(x, w, stride, padTop, padBottom, padLeft, padRight),
                () -> inner.conv2dAdd(x, w, bias, stride, padTop, padBottom, padLeft, padRight, residual));
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        return time(silu ? "groupNorm+silu" : "groupNorm", 0, () -> inner.groupNorm(x, groups, gamma, beta, eps, silu));
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        return time("layerNorm", 0, () -> inner.layerNorm(x, gamma, beta, eps));
    }

    @Override
    public Tensor softmax(Tensor x) {
        return time("softmax", 0, () -> inner.softmax(x));
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        long flops = 4L * q.dim(0) * q.dim(1) * k.dim(1) * q.dim(2);
        return time(k.dim(1) == q.dim(1) ? "attention (self)" : "attention (cross)", flops,
                () -> inner.attention(q, k, v, heads, scale, causal));
    }

    @Override
    public Tensor activation(Tensor x, Activation act) {
        return time("activation", 0, () -> inner.activation(x, act));
    }

    @Override
    public Tensor geglu(Tensor x) {
        return time("geglu", 0, () -> inner.geglu(x));
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return time("add", 0, () -> inner.add(a, b));
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return time("sub", 0, () -> inner.sub(a, b));
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return time("mul", 0, () -> inner.mul(a, b));
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        return time("scale", 0, () -> inner.scale(x, s));
    }

    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        return time("clamp", 0, () -> inner.clamp(x, lo, hi));
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        return time("upsampleNearest2x", 0, () -> inner.upsampleNearest2x(x));
    }

    @Override
    public Tensor concat(int dim, Tensor... parts) {
        return time("concat", 0, () -> inner.concat(dim, parts));
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift) {
        return time("timestepEmbedding", 0, () -> inner.timestepEmbedding(timesteps, dim, flipSinToCos, downscaleFreqShift));
    }

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        return time("embedding", 0, () -> inner.embedding(table, ids));
    }

    @Override
    public Tensor sum(Tensor x, int dim) {
        return time("sum", 0, () -> inner.sum(x, dim));
    }

    @Override
    public Tensor mean(Tensor x, int dim) {
        return time("mean", 0, () -> inner.mean(x, dim));
    }

    @Override
    public long peakDeviceMemoryBytes() {
        return inner.peakDeviceMemoryBytes();
    }

    @Override
    public void release(Tensor t) {
        inner.release(t);
    }

    @Override
    public void close() {
        inner.close();
    }
}
