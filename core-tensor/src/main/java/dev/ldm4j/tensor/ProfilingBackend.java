// A Backend that forwards every op to another backend and records how often each op ran, how long
// it took and how many floating-point operations it did, to show where a run spends its time; by op, or
// by op and the shapes of its operands (which shapes a model runs, and how often: the JMH rows of
// bench/Sd15ShapesBench come from such a list).
// Asynchronous backends (CUDA) are timed only up to the launch unless they synchronize per op.
package dev.ldm4j.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

public final class ProfilingBackend extends ForwardingBackend {
    private final Map<String, long[]> stats = new TreeMap<>(); // op (and shapes) -> {calls, nanos, flops}
    private final boolean byShape;

    public ProfilingBackend(Backend inner) {
        this(inner, false);
    }

    /** byShape: one row per op and operand shapes ("conv2d 3x3+add [2, 320, 64, 64] [320, 320, 3, 3] ..."). */
    public ProfilingBackend(Backend inner, boolean byShape) {
        super(inner);
        this.byShape = byShape;
    }

    @Override
    protected Tensor op(String op, long flops, Supplier<Tensor> body, Tensor... reads) {
        String key = byShape ? withShapes(op, reads) : op;
        long t0 = System.nanoTime();
        Tensor out = body.get();
        long dt = System.nanoTime() - t0;
        synchronized (stats) {
            long[] s = stats.computeIfAbsent(key, k -> new long[3]);
            s[0]++;
            s[1] += dt;
            s[2] += flops;
        }
        return out;
    }

    /** op followed by the shape of each operand given, and its dtype where not F32 (null operands, such as an absent bias, left out). */
    static String withShapes(String op, Tensor... reads) {
        StringBuilder sb = new StringBuilder(op);
        for (Tensor t : reads) {
            if (t != null) {
                sb.append(' ').append(java.util.Arrays.toString(t.shape()));
                if (t.dtype() != DType.F32) {
                    sb.append(' ').append(t.dtype().name().toLowerCase(Locale.ROOT));
                }
            }
        }
        return sb.toString();
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
        int width = Math.max(22, rows.stream().mapToInt(e -> e.getKey().length()).max().orElse(0));
        String head = "%-" + width + "s %8s %10s %7s %10s%n", row = "%-" + width + "s %8d %10.3f %6.1f%% %10s%n";
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, head, "op", "calls", "seconds", "share", "GFLOP/s"));
        for (Map.Entry<String, long[]> e : rows) {
            long[] s = e.getValue();
            sb.append(String.format(Locale.ROOT, row, e.getKey(), s[0], s[1] / 1e9,
                    total == 0 ? 0 : 100.0 * s[1] / total, s[2] == 0 ? "" : String.format(Locale.ROOT, "%.1f", s[2] / (double) s[1])));
        }
        sb.append(String.format(Locale.ROOT, "%-" + width + "s %8s %10.3f%n", "total", "", total / 1e9));
        return sb.toString();
    }
}
