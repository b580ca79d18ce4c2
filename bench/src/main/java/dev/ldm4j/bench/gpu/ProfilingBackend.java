// A Backend that forwards every op to the CUDA backend and attributes GPU time to op names with marks
// on the stream (no waiting between ops), for a breakdown of a model call: "where does a U-Net step go".
package dev.ldm4j.bench.gpu;

import dev.ldm4j.kernels.CudaBackend;
import dev.ldm4j.kernels.GpuTimeline;
import dev.ldm4j.tensor.ForwardingBackend;
import dev.ldm4j.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

final class ProfilingBackend extends ForwardingBackend {
    private record Span(String op, int start, int end) {
    }

    private final CudaBackend gpu;
    private GpuTimeline timeline;
    private final List<Span> spans = new ArrayList<>();

    ProfilingBackend(CudaBackend gpu) {
        super(gpu);
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

    @Override
    protected Tensor op(String op, long flops, Supplier<Tensor> body, Tensor... reads) {
        if (timeline == null) {
            return body.get();
        }
        int a = timeline.mark();
        Tensor t = body.get();
        spans.add(new Span(op, a, timeline.mark()));
        return t;
    }
}
