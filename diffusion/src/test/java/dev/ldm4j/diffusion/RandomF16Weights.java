// Seeded random F16 weights with the names and shapes of a real checkpoint, for full-size checks without
// downloading weights (the values are deterministic per tensor name).
package dev.ldm4j.diffusion;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The header's names and shapes as F16 tensors in off-heap memory, filled on first use with uniform
 * values in +-1/sqrt(fan_in) (1-D tensors: norm weights 1, biases 0), like a memory-mapped file.
 */
public final class RandomF16Weights implements WeightSource {
    private static final ValueLayout.OfShort F16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Map<String, int[]> shapes = new LinkedHashMap<>();
    private final Arena arena;
    private final String origin;
    private long bytes;

    /** header: a diffusers component's name -> [dtype, shape] map (as in sd15-diffusers.header.json); memory from arena. */
    @SuppressWarnings("unchecked")
    public RandomF16Weights(Map<String, Object> header, Arena arena, String origin) {
        this.arena = arena;
        this.origin = origin;
        for (var e : header.entrySet()) {
            List<Object> shape = (List<Object>) ((List<Object>) e.getValue()).get(1);
            shapes.put(e.getKey(), shape.stream().mapToInt(o -> ((Number) o).intValue()).toArray());
        }
    }

    @Override
    public Set<String> names() {
        return shapes.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        int[] s = shapes.get(name);
        return s == null ? null : new TensorInfo(name, DType.F16, s);
    }

    @Override
    public Tensor tensor(String name) {
        int[] shape = shapes.get(name);
        long n = Tensor.numel(shape);
        MemorySegment seg = arena.allocate(n * 2, 64);
        bytes += n * 2;
        if (shape.length == 1) {
            short v = Float.floatToFloat16(name.endsWith("bias") ? 0f : 1f);
            for (long i = 0; i < n; i++) {
                seg.set(F16_LE, i * 2, v);
            }
        } else {
            float bound = (float) (1 / Math.sqrt((double) n / shape[0]));
            long s = name.hashCode() * 0x9E3779B97F4A7C15L + 1;
            for (long i = 0; i < n; i++) {
                s ^= s << 13;
                s ^= s >>> 7;
                s ^= s << 17;
                float u = ((s >>> 40) / (float) (1 << 24)) * 2 - 1;
                seg.set(F16_LE, i * 2, Float.floatToFloat16(u * bound));
            }
        }
        return Tensor.of(new SegmentStorage(seg, DType.F16), shape);
    }

    @Override
    public String origin() {
        return origin;
    }

    /** Bytes of the tensors handed out so far. */
    public long bytes() {
        return bytes;
    }
}
