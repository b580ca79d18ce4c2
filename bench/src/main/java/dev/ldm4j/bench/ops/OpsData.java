// Seeded random inputs for the CPU op benchmarks, and the one backend they all run on.
package dev.ldm4j.bench.ops;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.HalfConversion;
import dev.ldm4j.tensor.cpu.CpuBackend;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

final class OpsData {
    private OpsData() {
    }

    static Backend backend() {
        return new CpuBackend();
    }

    static Tensor rand(long seed, float amp, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) ((r.nextDouble() * 2 - 1) * amp);
        }
        return Tensor.of(a, shape);
    }

    /** The values of t as an F16 segment, as a memory-mapped float16 checkpoint holds them. */
    static Tensor f16(Tensor t) {
        float[] a = t.toFloatArray();
        MemorySegment seg = Arena.ofAuto().allocate(2L * a.length);
        var le = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < a.length; i++) {
            seg.set(le, 2L * i, HalfConversion.f32ToF16(a[i]));
        }
        return Tensor.of(new SegmentStorage(seg, DType.F16), t.shape());
    }

    /** "4096x320x320" -> {4096, 320, 320}. */
    static int[] dims(String s) {
        String[] p = s.split("x");
        int[] d = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            d[i] = Integer.parseInt(p[i]);
        }
        return d;
    }
}
