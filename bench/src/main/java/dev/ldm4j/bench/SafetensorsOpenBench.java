// JMH: how fast a float16 safetensors checkpoint becomes float32 arrays. Each invocation opens
// (memory-maps) the file, parses its header and widens every tensor into a reused float[], beside a
// plain FileChannel read of the same bytes into a reused buffer (the I/O ceiling for the same page-
// cached file) and the same widening element by element through SegmentStorage.getFloat (what a
// generic tensor read costs).
// Throughput in GB/s of F16 input = file size / time per operation.
//
// The nested Resident benchmarks widen an in-memory segment (no I/O, no page faults) to isolate the
// conversion itself: F16 (a loop C2 turns into packed conversions), BF16 with the Vector API and
// with its scalar reference loop.
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar SafetensorsOpenBench
//      (-p sizeMiB=256 for a quick run; the default file is 2 GiB, written once per trial in a temp dir)
package dev.ldm4j.bench;

import dev.ldm4j.tensor.HalfConversion;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Storage;
import dev.ldm4j.weights.SafetensorsFile;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.TimeUnit;

@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 3, time = 10)
public class SafetensorsOpenBench {
    /** Size of the data section in MiB (2 GiB by default). */
    @Param("2048")
    public long sizeMiB;

    /** Size of each tensor in MiB (the file holds sizeMiB / tensorMiB tensors). */
    @Param("8")
    public int tensorMiB;

    private Path dir;
    private Path file;
    private float[] floats;
    private ByteBuffer readBuffer;

    @Setup(Level.Trial)
    public void writeFile() throws IOException {
        if (sizeMiB % tensorMiB != 0) {
            throw new IllegalArgumentException("sizeMiB " + sizeMiB + " is not a multiple of tensorMiB " + tensorMiB);
        }
        dir = Files.createTempDirectory("ldm4j-safetensors-bench");
        file = dir.resolve("bench-f16.safetensors");
        long tensors = sizeMiB / tensorMiB;
        int tensorBytes = tensorMiB << 20;
        int rows = tensorBytes / 2 / 1024;
        StringBuilder h = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        for (long i = 0; i < tensors; i++) {
            h.append(",\"model.layer.").append(i).append(".weight\":{\"dtype\":\"F16\",\"shape\":[").append(rows)
                    .append(",1024],\"data_offsets\":[").append(i * tensorBytes).append(',').append((i + 1) * tensorBytes).append("]}");
        }
        h.append('}');
        while (h.length() % 8 != 0) {
            h.append(' ');
        }
        byte[] header = h.toString().getBytes(StandardCharsets.US_ASCII);
        // One tensor's worth of weight-like values (N(0, 0.05) rounded to F16), repeated for every tensor.
        ByteBuffer chunk = ByteBuffer.allocateDirect(tensorBytes).order(ByteOrder.LITTLE_ENDIAN);
        Random r = new Random(42);
        while (chunk.hasRemaining()) {
            chunk.putShort(HalfConversion.f32ToF16((float) (r.nextGaussian() * 0.05)));
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            writeFully(ch, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip());
            writeFully(ch, ByteBuffer.wrap(header));
            for (long i = 0; i < tensors; i++) {
                writeFully(ch, chunk.clear());
            }
        }
        floats = new float[tensorBytes / 2];
        readBuffer = ByteBuffer.allocateDirect(tensorBytes);
    }

    @TearDown(Level.Trial)
    public void deleteFile() throws IOException {
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
    }

    /** Open, parse, and widen every tensor to F32 with the vectorized HalfConversion. */
    @Benchmark
    public float openAndWidenAll() {
        float check = 0;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.names()) {
                SegmentStorage s = (SegmentStorage) f.tensor(name).storage();
                int n = (int) s.size();
                HalfConversion.f16ToF32(s.segment(), 0, floats, 0, n);
                check += floats[n - 1];
            }
        }
        return check;
    }

    /** The same through the generic per-element Storage.getFloat. */
    @Benchmark
    public float openAndWidenAllPerElement() {
        float check = 0;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.names()) {
                Storage s = f.tensor(name).storage();
                int n = (int) s.size();
                for (int i = 0; i < n; i++) {
                    floats[i] = s.getFloat(i);
                }
                check += floats[n - 1];
            }
        }
        return check;
    }

    /** Baseline: read the whole file with FileChannel into a reused direct buffer, no conversion. */
    @Benchmark
    public long plainFileRead() throws IOException {
        long check = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long at = 0;
            while (true) {
                readBuffer.clear();
                int n = ch.read(readBuffer, at);
                if (n <= 0) {
                    break;
                }
                at += n;
                check += readBuffer.get(0);
            }
        }
        return check;
    }

    /** Widening alone, from a resident native segment of F16 values into a reused float[]. */
    @State(Scope.Benchmark)
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
    @Warmup(iterations = 3, time = 1)
    @Measurement(iterations = 5, time = 1)
    public static class Resident {
        /** Input size in KiB of F16. */
        @Param("1024")
        public int inKiB;

        private Arena arena;
        private MemorySegment halves;
        private float[] out;

        @Setup(Level.Trial)
        public void fill() {
            arena = Arena.ofShared();
            int n = inKiB * 512;
            halves = arena.allocate(2L * n, 64);
            Random r = new Random(42);
            for (int i = 0; i < n; i++) {
                halves.setAtIndex(ValueLayout.JAVA_SHORT, i, HalfConversion.f32ToF16((float) (r.nextGaussian() * 0.05)));
            }
            out = new float[n];
        }

        @TearDown(Level.Trial)
        public void free() {
            arena.close();
        }

        @Benchmark
        public float widenF16() {
            HalfConversion.f16ToF32(halves, 0, out, 0, out.length);
            return out[out.length - 1];
        }

        @Benchmark
        public float widenBf16Vector() {
            HalfConversion.bf16ToF32(halves, 0, out, 0, out.length);
            return out[out.length - 1];
        }

        @Benchmark
        public float widenBf16Scalar() {
            HalfConversion.bf16ToF32Scalar(halves, 0, out, 0, out.length);
            return out[out.length - 1];
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
