// A Backend that forwards every op to the CUDA backend and attributes GPU time to op names with marks
// on the stream (no waiting between ops), for a breakdown of a model call: "where does a U-Net step go".
package dev.ldm4j.bench.gpu;

import dev.ldm4j.kernels.CudaBackend;
import dev.ldm4j.kernels.GpuTimeline;
import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Device;
import dev.ldm4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

final class ProfilingBackend implements Backend {
    private record Span(String op, int start, int end) {
    }

    private final CudaBackend gpu;
    private GpuTimeline timeline;
    private final List<Span> spans = new ArrayList<>();

    ProfilingBackend(CudaBackend gpu) {
        this.gpu = gpu;
    }

    void start() {
        timeline = gpu.timeline();
        spans.clear();
    }

    /** Op name -> {GPU ms, calls}, largest first, after the recorded work finished. */
    Map<String, double[]> stop() {
        timeline.finish();
        Map<String, double[]> byOp = new LinkedHashMap<>();
        for (Span s : spans) {
            double[] v = byOp.computeIfAbsent(s.op(), k -> new double[2]);
            v[0] += timeline.millisBetween(s.start(), s.end());
            v[1]++;
        }
        timeline.close();
        timeline = null;
        Map<String, double[]> sorted = new LinkedHashMap<>();
        byOp.entrySet().stream().sorted((a, b) -> Double.compare(b.getValue()[0], a.getValue()[0]))
                .forEach(e -> sorted.put(e.getKey(), e.getValue()));
        return sorted;
    }

    private Tensor timed(String op, Supplier<Tensor> body) {
        if (timeline == null) {
            return body.get();
        }
        int a = timeline.mark();
        Tensor t = body.get();
        spans.add(new Span(op, a, timeline.mark()));
        return t;
    }

    @Override
    public String name() {
        return gpu.name();
    }

    @Override
    public Device device() {
        return gpu.device();
    }

    @Override
    public Tensor toDevice(Tensor host) {
        return timed("toDevice", () -> gpu.toDevice(host));
    }

    @Override
    public Tensor toDeviceWeight(Tensor host) {
        return timed("toDevice", () -> gpu.toDeviceWeight(host));
    }

    @Override
    public Tensor toHost(Tensor t) {
        return timed("toHost", () -> gpu.toHost(t));
    }

    @Override
    public Tensor contiguous(Tensor t) {
        return timed("contiguous", () -> gpu.contiguous(t));
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        return timed("matmul", () -> gpu.matmul(a, b));
    }

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias, Activation act) {
        return timed("linear", () -> gpu.linear(x, w, bias, act));
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        return timed("conv2d " + w.dim(2) + "x" + w.dim(3), () -> gpu.conv2d(x, w, bias, stride, padTop, padBottom, padLeft, padRight));
    }

    @Override
    public Tensor linearAdd(Tensor x, Tensor w, Tensor bias, Tensor residual) {
        return timed("linear+add", () -> gpu.linearAdd(x, w, bias, residual));
    }

    @Override
    public Tensor linearGeglu(Tensor x, Tensor w, Tensor bias) {
        return timed("linear+geglu", () -> gpu.linearGeglu(x, w, bias));
    }

    @Override
    public Tensor conv2dAdd(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor residual) {
        return timed("conv2d " + w.dim(2) + "x" + w.dim(3) + "+add", () -> gpu.conv2dAdd(x, w, bias, stride, padTop, padBottom, padLeft, padRight, residual));
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        return timed("groupNorm", () -> gpu.groupNorm(x, groups, gamma, beta, eps, silu));
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        return timed("layerNorm", () -> gpu.layerNorm(x, gamma, beta, eps));
    }

    @Override
    public Tensor softmax(Tensor x) {
        return timed("softmax", () -> gpu.softmax(x));
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        return timed("attention", () -> gpu.attention(q, k, v, heads, scale, causal));
    }

    @Override
    public Tensor activation(Tensor x, Activation act) {
        return timed("activation", () -> gpu.activation(x, act));
    }

    @Override
    public Tensor geglu(Tensor x) {
        return timed("geglu", () -> gpu.geglu(x));
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return timed("add", () -> gpu.add(a, b));
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return timed("sub", () -> gpu.sub(a, b));
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return timed("mul", () -> gpu.mul(a, b));
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        return timed("scale", () -> gpu.scale(x, s));
    }

    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        return timed("clamp", () -> gpu.clamp(x, lo, hi));
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        return timed("upsample", () -> gpu.upsampleNearest2x(x));
    }

    @Override
    public Tensor concat(int dim, Tensor... parts) {
        return timed("concat", () -> gpu.concat(dim, parts));
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift) {
        return timed("timestepEmbedding", () -> gpu.timestepEmbedding(timesteps, dim, flipSinToCos, downscaleFreqShift));
    }

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        return timed("embedding", () -> gpu.embedding(table, ids));
    }

    @Override
    public Tensor sum(Tensor x, int dim) {
        return timed("sum", () -> gpu.sum(x, dim));
    }

    @Override
    public Tensor mean(Tensor x, int dim) {
        return timed("mean", () -> gpu.mean(x, dim));
    }

    @Override
    public long peakDeviceMemoryBytes() {
        return gpu.peakDeviceMemoryBytes();
    }

    @Override
    public void release(Tensor t) {
        gpu.release(t);
    }
}
