// ./ldm4j random-weights: a full-size checkpoint with the real tensor names and shapes and seeded
// random values, for speed and memory measurements without downloading real weights.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Device;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Storage;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "random-weights", mixinStandardHelpOptions = true,
        description = {"Write a checkpoint with the tensor names and shapes of a header file and seeded random values.",
                "The header is a JSON object name -> [dtype, shape], such as ../shared/conformance/sd15-original-fp16.header.json.",
                "Weights are uniform in +-1/sqrt(fan_in) (PyTorch's default init), 1-D '.weight' tensors 1, biases 0:",
                "enough to time a model, not to draw anything."})
public final class RandomWeightsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--header", required = true, paramLabel = "FILE", description = "The JSON header listing name -> [dtype, shape].")
    Path header;

    @Option(names = "--output", required = true, paramLabel = "FILE", description = "The .safetensors file to write.")
    Path output;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the values (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--overwrite", description = "Replace --output if it exists.")
    boolean overwrite;

    @Override
    public Integer call() {
        OutputFiles.checkWritable(output, "--output", overwrite);
        Map<String, Object> entries = Json.parseObject(header);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        long salt = seed;
        for (Map.Entry<String, Object> e : entries.entrySet()) {
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            if (!(e.getValue() instanceof List<?> pair) || pair.size() != 2 || !(pair.get(0) instanceof String dt)
                    || !(pair.get(1) instanceof List<?> dims)) {
                throw new Main.UserError(header + ": entry '" + e.getKey() + "' is not [dtype, shape]");
            }
            int[] shape = new int[dims.size()];
            for (int i = 0; i < shape.length; i++) {
                if (!(dims.get(i) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE) {
                    throw new Main.UserError(header + ": entry '" + e.getKey() + "' has a bad dimension " + dims.get(i));
                }
                shape[i] = (int) (long) d;
            }
            DType dtype = dtypeOf(dt, e.getKey());
            Storage storage = dtype.isFloating()
                    ? new RandomStorage(dtype, Tensor.numel(shape), init(e.getKey(), shape), salt++)
                    : arange(dtype, Tensor.numel(shape));
            tensors.put(e.getKey(), Tensor.of(storage, shape));
        }
        SafetensorsWriter.write(output, tensors, Map.of("format", "pt", "ldm4j", "random weights, seed " + seed), null, overwrite);
        spec.commandLine().getErr().println("ldm4j: wrote " + tensors.size() + " random tensors to " + output);
        return 0;
    }

    private DType dtypeOf(String name, String key) {
        return switch (name) {
            case "float16", "F16" -> DType.F16;
            case "bfloat16", "BF16" -> DType.BF16;
            case "float32", "F32" -> DType.F32;
            case "float64", "F64" -> DType.F64;
            case "int64", "I64" -> DType.I64;
            case "int32", "I32" -> DType.I32;
            default -> throw new Main.UserError(header + ": entry '" + key + "' has an unsupported dtype '" + name + "'");
        };
    }

    /** 0, 1, 2, ... as little-endian integers (what position_ids hold). */
    private static SegmentStorage arange(DType dtype, long n) {
        MemorySegment seg = Arena.ofAuto().allocate(n * dtype.byteSize());
        for (long i = 0; i < n; i++) {
            if (dtype == DType.I64) {
                seg.set(LONG_LE, i * 8, i);
            } else {
                seg.set(INT_LE, i * 4, (int) i);
            }
        }
        return new SegmentStorage(seg, dtype);
    }

    private static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Half-width of the uniform range, or a constant when negative (-1 means 1.0, -2 means 0.0). */
    private static double init(String name, int[] shape) {
        if (shape.length <= 1) {
            return name.endsWith("bias") ? -2 : (name.endsWith("weight") ? -1 : 0.02);
        }
        long fanIn = 1;
        for (int i = 1; i < shape.length; i++) {
            fanIn *= shape[i];
        }
        return 1 / Math.sqrt(fanIn);
    }

    /** Values computed from the index on demand (a SplitMix64 hash), so nothing is held in memory. */
    record RandomStorage(DType dtype, long size, double halfWidth, long salt) implements Storage {
        @Override
        public Device device() {
            return Device.CPU;
        }

        @Override
        public float getFloat(long i) {
            if (halfWidth == -1) {
                return 1f;
            }
            if (halfWidth == -2) {
                return 0f;
            }
            long z = (i + 1) * 0x9E3779B97F4A7C15L + salt * 0xD1B54A32D192ED03L;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            double u = (z >>> 11) * 0x1.0p-53;
            return (float) ((2 * u - 1) * halfWidth);
        }
    }
}
