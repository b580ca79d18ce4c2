// Writing safetensors: round trips in F32/F16/BF16, the padded header layout, raw copies of integer
// tensors and strided views, and the refusal to replace an existing file unless asked.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.HalfConversion;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsWriterTest {
    @TempDir
    Path dir;

    private static float[] randomFloats(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian() * 3;
        }
        return v;
    }

    private static Map<String, Tensor> sample() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("conv.weight", Tensor.of(randomFloats(4 * 3 * 3 * 3, 1), 4, 3, 3, 3));
        m.put("conv.bias", Tensor.of(randomFloats(4, 2), 4));
        m.put("big", Tensor.of(randomFloats(70_001, 3), 70_001)); // more than one conversion chunk
        m.put("empty", Tensor.zeros(0, 5));
        return m;
    }

    @Test
    void f32RoundTripIsExact() {
        Path p = dir.resolve("a.safetensors");
        Map<String, Tensor> in = sample();
        SafetensorsWriter.write(p, in, Map.of("format", "pt"), DType.F32, false);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(List.copyOf(in.keySet()), List.copyOf(f.names()));
            assertEquals(Map.of("format", "pt"), f.metadata());
            for (var e : in.entrySet()) {
                assertEquals(DType.F32, f.info(e.getKey()).dtype());
                assertArrayEquals(e.getValue().shape(), f.info(e.getKey()).shape());
                assertArrayEquals(e.getValue().toFloatArray(), f.tensor(e.getKey()).toFloatArray(), 0f, e.getKey());
            }
        }
    }

    @Test
    void f16AndBf16WritesRoundToNearestEven() {
        Map<String, Tensor> in = sample();
        for (DType dt : new DType[]{DType.F16, DType.BF16}) {
            Path p = dir.resolve(dt + ".safetensors");
            SafetensorsWriter.write(p, in, dt);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                for (var e : in.entrySet()) {
                    float[] src = e.getValue().toFloatArray();
                    float[] got = f.tensor(e.getKey()).toFloatArray();
                    assertEquals(dt, f.tensor(e.getKey()).dtype());
                    for (int i = 0; i < src.length; i++) {
                        float want = dt == DType.F16
                                ? Float.float16ToFloat(Float.floatToFloat16(src[i]))
                                : HalfConversion.bf16ToF32(HalfConversion.f32ToBf16(src[i]));
                        assertEquals(want, got[i], 0f, e.getKey() + "[" + i + "]");
                    }
                }
            }
        }
    }

    @Test
    void headerIsPaddedWithSpacesToAMultipleOfEight() throws IOException {
        Path p = dir.resolve("pad.safetensors");
        SafetensorsWriter.write(p, Map.of("x", Tensor.of(new float[]{1, 2, 3}, 3)));
        byte[] b = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8);
        String header = new String(b, 8, (int) n, StandardCharsets.UTF_8);
        assertEquals("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", header.strip());
        assertTrue(header.substring(header.lastIndexOf('}') + 1).chars().allMatch(c -> c == ' '));
        assertEquals(8 + n + 12, b.length);
        assertEquals(2f, ByteBuffer.wrap(b, (int) (8 + n + 4), 4).order(ByteOrder.LITTLE_ENDIAN).getFloat());
    }

    @Test
    void rawCopyKeepsIntegerTensorsAndMatchingDtypesByteForByte() throws IOException {
        ByteBuffer d = ByteBuffer.allocate(8 * 3 + 2 * 4).order(ByteOrder.LITTLE_ENDIAN);
        d.putLong(Long.MAX_VALUE).putLong(-1).putLong(5);
        d.putShort((short) 0x7e01).putShort((short) 0x0001).putShort((short) 0xfc00).putShort((short) 0x3555);
        String header = "{\"ids\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[0,24]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[24,32]}}";
        Path src = RawSafetensors.write(dir.resolve("src.safetensors"), RawSafetensors.bytes(header, d.array()));
        Path out = dir.resolve("copy.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(src)) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("ids", f.tensor("ids"));
            m.put("h", f.tensor("h"));
            m.put("hT", f.tensor("h").transpose(0, 1)); // a strided view, converted element by element
            SafetensorsWriter.write(out, m, DType.F16);
        }
        byte[] b = Files.readAllBytes(out);
        long n = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        ByteBuffer data = ByteBuffer.wrap(b, (int) (8 + n), b.length - (int) (8 + n)).slice().order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(Long.MAX_VALUE, data.getLong(0));
        assertEquals(-1L, data.getLong(8));
        assertEquals((short) 0x7e01, data.getShort(24)); // NaN payload kept by the raw copy
        assertEquals((short) 0x3555, data.getShort(30));
        // transposed [[a, b], [c, d]] -> [a, c, b, d]
        assertEquals((short) 0xfc00, data.getShort(34));
        assertEquals((short) 0x0001, data.getShort(36));
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertEquals(DType.I64, f.info("ids").dtype());
        }
    }

    @Test
    void refusesToReplaceAnExistingFileUnlessAsked() throws IOException {
        Path p = dir.resolve("keep.safetensors");
        Files.writeString(p, "precious");
        Map<String, Tensor> m = Map.of("x", Tensor.of(new float[]{1}, 1));
        WeightException e = assertThrows(WeightException.class, () -> SafetensorsWriter.write(p, m));
        assertTrue(e.getMessage().contains("keep.safetensors") && e.getMessage().contains("exists"), e.getMessage());
        assertEquals("precious", Files.readString(p));
        SafetensorsWriter.write(p, m, Map.of(), DType.F32, true);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertArrayEquals(new float[]{1}, f.tensor("x").toFloatArray());
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(p), files.toList(), "no temporary file left behind");
        }
    }

    @Test
    void overwritingKeepsTheReplacedFilesPermissions() throws IOException {
        Path p = dir.resolve("mode.safetensors");
        Map<String, Tensor> m = Map.of("x", Tensor.of(new float[]{1}, 1));
        SafetensorsWriter.write(p, m);
        var mode = java.nio.file.attribute.PosixFilePermissions.fromString("rw-r-----");
        Files.setPosixFilePermissions(p, mode);
        SafetensorsWriter.write(p, m, Map.of(), DType.F32, true);
        assertEquals(mode, Files.getPosixFilePermissions(p));
    }

    /** sysfs refuses new files even to root: the message gives the reason, not a Java exception's name. */
    @Test
    void aFailedWriteSaysWhyInWords() {
        Path sys = Path.of("/sys");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(sys.resolve("kernel")), "no sysfs here");
        Path p = sys.resolve("ldm4j-test.safetensors");
        WeightException e = assertThrows(WeightException.class, () -> SafetensorsWriter.write(p, Map.of("x", Tensor.of(new float[]{1}, 1))));
        assertEquals("/sys/ldm4j-test.safetensors: cannot write: permission denied", e.getMessage());
    }

    @Test
    void rejectsNonFloatingTargetDtypeAndReservedName() {
        Path p = dir.resolve("bad.safetensors");
        Map<String, Tensor> m = Map.of("x", Tensor.of(new float[]{1}, 1));
        assertThrows(WeightException.class, () -> SafetensorsWriter.write(p, m, DType.I32));
        assertThrows(WeightException.class, () -> SafetensorsWriter.write(p, Map.of("__metadata__", Tensor.of(new float[]{1}, 1))));
    }
}
