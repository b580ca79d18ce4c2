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

public final class ProfilingBackend extends ForwardingBackend {
    private final Map<String, long[]> stats = new TreeMap<>(); // op -> {calls, nanos, flops}

    public ProfilingBackend(Backend inner) {
        super(inner);
    }

    @Override
    protected Tensor op(String op, long flops, Supplier<Tensor> body, Tensor... reads) {
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

    /** The floating-point operations counted so far, over every op (the products: convs, linears, matmuls, attention). */
    public long totalFlops() {
        synchronized (stats) {
            return stats.values().stream().mapToLong(s -> s[2]).sum();
        }
    }

    /** Forgets what has been counted (e.g. the warm-up steps of a benchmark). */
    public void reset() {
        synchronized (stats) {
            stats.clear();
        }
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
}
