// Reading safetensors files built byte by byte: every dtype, file-order names, metadata, read-only
// views, lookups of absent names, and use after close.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    /** A file with one tensor of every dtype, listed in the header out of offset order. */
    private Path everyDtype() {
        ByteBuffer d = ByteBuffer.allocate(53).order(ByteOrder.LITTLE_ENDIAN);
        d.putFloat(1f).putFloat(-2.5f).putFloat(3e-3f).putFloat(Float.POSITIVE_INFINITY); // a   [0, 16)
        d.putShort((short) 0x3c00).putShort((short) 0xc000).putShort((short) 0x0001);      // h   [16, 22)
        d.putShort((short) 0x3f80);                                                       // b   [22, 24)
        d.putLong(-7);                                                                    // i   [24, 32)
        d.putDouble(0.5);                                                                 // d   [32, 40)
        d.putInt(123456);                                                                 // i32 [40, 44)
        d.putShort((short) -3);                                                           // i16 [44, 46)
        d.put((byte) -4);                                                                 // i8  [46, 47)
        d.put((byte) 200);                                                                // u8  [47, 48)
        d.put((byte) 1);                                                                  // bool [48, 49)
        d.putFloat(42f);                                                                  // s   [49, 53)
        String header = """
                {"s":{"dtype":"F32","shape":[],"data_offsets":[49,53]},
                 "a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},
                 "__metadata__":{"format":"pt","note":"hand made"},
                 "h":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},
                 "b":{"dtype":"BF16","shape":[1],"data_offsets":[22,24]},
                 "i":{"dtype":"I64","shape":[1,1],"data_offsets":[24,32]},
                 "d":{"dtype":"F64","shape":[1],"data_offsets":[32,40]},
                 "i32":{"dtype":"I32","shape":[1],"data_offsets":[40,44]},
                 "i16":{"dtype":"I16","shape":[1],"data_offsets":[44,46]},
                 "i8":{"dtype":"I8","shape":[1],"data_offsets":[46,47]},
                 "u8":{"dtype":"U8","shape":[1],"data_offsets":[47,48]},
                 "bool":{"dtype":"BOOL","shape":[1],"data_offsets":[48,49]},
                 "empty":{"dtype":"F32","shape":[0,3],"data_offsets":[49,49]}}   \s""";
        return RawSafetensors.write(dir.resolve("every.safetensors"), RawSafetensors.bytes(header, d.array()));
    }

    @Test
    void readsEveryDtypeWithExactValues() {
        try (SafetensorsFile f = SafetensorsFile.open(everyDtype())) {
            assertArrayEquals(new float[]{1f, -2.5f, 3e-3f, Float.POSITIVE_INFINITY}, f.tensor("a").toFloatArray());
            assertArrayEquals(new float[]{1f, -2f, 0x1p-24f}, f.tensor("h").toFloatArray());
            assertArrayEquals(new float[]{1f}, f.tensor("b").toFloatArray());
            assertArrayEquals(new float[]{-7f}, f.tensor("i").toFloatArray());
            assertArrayEquals(new float[]{0.5f}, f.tensor("d").toFloatArray());
            assertArrayEquals(new float[]{123456f}, f.tensor("i32").toFloatArray());
            assertArrayEquals(new float[]{-3f}, f.tensor("i16").toFloatArray());
            assertArrayEquals(new float[]{-4f}, f.tensor("i8").toFloatArray());
            assertArrayEquals(new float[]{200f}, f.tensor("u8").toFloatArray());
            assertArrayEquals(new float[]{1f}, f.tensor("bool").toFloatArray());
            assertArrayEquals(new float[]{42f}, f.tensor("s").toFloatArray());
            assertEquals(0, f.tensor("empty").numel());
            assertArrayEquals(new int[]{0, 3}, f.tensor("empty").shape());
            assertEquals(DType.I64, f.tensor("i").dtype());
            assertArrayEquals(new int[]{1, 1}, f.tensor("i").shape());
        }
    }

    @Test
    void namesFollowHeaderOrderAndMetadataIsSeparate() {
        try (SafetensorsFile f = SafetensorsFile.open(everyDtype())) {
            assertEquals(List.of("s", "a", "h", "b", "i", "d", "i32", "i16", "i8", "u8", "bool", "empty"), List.copyOf(f.names()));
            assertEquals(Map.of("format", "pt", "note", "hand made"), f.metadata());
            assertEquals(new TensorInfo("h", DType.F16, new int[]{3}), f.info("h"));
            assertNull(f.info("__metadata__"));
            assertNull(f.info("missing"));
            assertTrue(f.origin().endsWith("every.safetensors"));
        }
    }

    @Test
    void tensorsAreReadOnlyViewsOfTheMapping() {
        try (SafetensorsFile f = SafetensorsFile.open(everyDtype())) {
            Tensor a = f.tensor("a");
            SegmentStorage s = (SegmentStorage) a.storage();
            assertTrue(s.segment().isReadOnly());
            assertTrue(s.segment().isMapped());
            assertEquals(16, s.segment().byteSize());
        }
    }

    @Test
    void absentNameIsAWeightExceptionNamingFileAndKey() {
        try (SafetensorsFile f = SafetensorsFile.open(everyDtype())) {
            WeightException e = assertThrows(WeightException.class, () -> f.tensor("nope"));
            assertTrue(e.getMessage().contains("every.safetensors") && e.getMessage().contains("'nope'"), e.getMessage());
        }
    }

    @Test
    void readingAfterCloseIsAWeightException() {
        SafetensorsFile f = SafetensorsFile.open(everyDtype());
        f.close();
        f.close();
        WeightException e = assertThrows(WeightException.class, () -> f.tensor("a"));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    @Test
    void filesOver2GiBAreMappedWithoutCopying() throws IOException {
        // A sparse file: 2^31 + 16 bytes of U8 data that take no disk space, with two marks written.
        long n = (1L << 31) + 16;
        String header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[2," + (n / 2) + "],\"data_offsets\":[0," + n + "]}}";
        byte[] h = RawSafetensors.bytes(header, new byte[0]);
        Path p = dir.resolve("big.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(h);
            f.setLength(h.length + n);
            f.seek(h.length + n - 1);
            f.write(7);
            f.seek(h.length + (1L << 31));
            f.write(9);
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            Tensor t = f.tensor("big");
            assertEquals(n, t.numel());
            assertEquals(7f, t.getFloat(1, (int) (n / 2) - 1));
            assertEquals(9f, t.getFloat(1, (int) ((1L << 31) - n / 2)));
            assertEquals(0f, t.getFloat(0, 0));
        }
    }

    @Test
    void emptyHeaderObjectWithNoDataOpens() {
        Path p = RawSafetensors.write(dir.resolve("empty.safetensors"), RawSafetensors.bytes("{}      ", new byte[0]));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertTrue(f.names().isEmpty());
            assertTrue(f.metadata().isEmpty());
        }
    }

    @Test
    void weightSourcesDispatchesOnFileName() {
        try (WeightSource s = WeightSources.open(everyDtype())) {
            assertTrue(s instanceof SafetensorsFile);
        }
        WeightException e = assertThrows(WeightException.class, () -> WeightSources.open(dir.resolve("model.ckpt")));
        assertTrue(e.getMessage().contains("model.ckpt") && e.getMessage().contains("not supported"), e.getMessage());
        WeightException d = assertThrows(WeightException.class, () -> WeightSources.open(dir));
        assertTrue(d.getMessage().contains("directory"), d.getMessage());
    }
}
