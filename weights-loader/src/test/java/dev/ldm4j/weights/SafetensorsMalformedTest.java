// Every kind of malformed safetensors file is refused with a WeightException whose single-line
// message names the file and the defect.
package dev.ldm4j.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsMalformedTest {
    @TempDir
    Path dir;

    private int count;

    /** Writes content to a fresh file, opens it, and checks the refusal names the file and contains every fragment. */
    private void refused(byte[] content, String... fragments) {
        Path p = RawSafetensors.write(dir.resolve("bad-" + (count++) + ".safetensors"), content);
        refusedAt(p, fragments);
    }

    private static void refusedAt(Path p, String... fragments) {
        WeightException e = assertThrows(WeightException.class, () -> SafetensorsFile.open(p).close());
        String m = e.getMessage();
        assertTrue(m.startsWith(p.toString() + ": "), "message names the file: " + m);
        assertFalse(m.contains("\n") || m.contains("\r"), "message is one line: " + m);
        for (String f : fragments) {
            assertTrue(m.contains(f), "message mentions '" + f + "': " + m);
        }
    }

    /** A header with one F32 [2] tensor "x" at the given offsets, padded, and data of dataBytes bytes. */
    private static byte[] oneTensor(String entry, int dataBytes) {
        return RawSafetensors.bytes("{\"x\":" + entry + "}", new byte[dataBytes]);
    }

    @Test
    void fileShorterThanTheLengthField() {
        refused(new byte[0], "0 bytes", "too short");
        refused(new byte[5], "5 bytes", "too short");
    }

    @Test
    void missingFileOrDirectory() {
        refusedAt(dir.resolve("absent.safetensors"), "no such file");
        refusedAt(dir, "directory");
        Path devNull = Path.of("/dev/null");
        if (Files.exists(devNull)) {
            WeightException e = assertThrows(WeightException.class, () -> SafetensorsFile.open(devNull));
            assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
        }
    }

    @Test
    void headerLengthLargerThanTheFile() {
        byte[] h = "{}".getBytes(StandardCharsets.UTF_8);
        refused(RawSafetensors.bytes(h, 1000, new byte[0]), "header length 1000", "larger than");
        refused(RawSafetensors.bytes(h, -1, new byte[0]), "header length 18446744073709551615", "larger than");
    }

    @Test
    void headerLengthOverTheLimitIsRefusedBeforeReadingIt() throws IOException {
        Path p = dir.resolve("huge-header.safetensors");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(SafetensorsFile.MAX_HEADER_BYTES + 4096); // sparse: no disk is used
            f.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(SafetensorsFile.MAX_HEADER_BYTES + 1).array());
        }
        refusedAt(p, "exceeds the limit of 100000000 bytes");
    }

    @Test
    void headerNotUtf8() {
        byte[] h = {'{', '"', 'x', (byte) 0xff, '"', ':', '{', '}', '}'};
        refused(RawSafetensors.bytes(h, h.length, new byte[0]), "not valid UTF-8");
        byte[] surrogate = {'{', '"', (byte) 0xed, (byte) 0xa0, (byte) 0x80, '"', ':', '1', '}'}; // an encoded UTF-16 surrogate
        refused(RawSafetensors.bytes(surrogate, surrogate.length, new byte[0]), "not valid UTF-8");
    }

    @Test
    void headerNotJson() {
        refused(RawSafetensors.bytes("{\"x\": ", new byte[0]), "not valid JSON");
        refused(RawSafetensors.bytes("", new byte[0]), "not valid JSON");
        refused(RawSafetensors.bytes("{} {}", new byte[0]), "not valid JSON");
        refused(RawSafetensors.bytes("[".repeat(100), new byte[0]), "not valid JSON");
    }

    @Test
    void duplicateTensorNames() {
        String e = "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}";
        refused(RawSafetensors.bytes("{\"x\":" + e + ",\"x\":" + e + "}", new byte[1]), "duplicate key", "'x'");
    }

    @Test
    void headerNotAnObject() {
        refused(RawSafetensors.bytes("[1, 2]", new byte[0]), "not a JSON object");
        refused(RawSafetensors.bytes("\"x\"", new byte[0]), "not a JSON object");
        refused(RawSafetensors.bytes("null", new byte[0]), "not a JSON object");
    }

    @Test
    void unknownDtype() {
        refused(oneTensor("{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}", 2), "tensor 'x'", "unknown dtype 'F8_E4M3'");
        refused(oneTensor("{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8), "unknown dtype 'f32'");
    }

    @Test
    void missingOrIllTypedFields() {
        refused(oneTensor("[]", 0), "tensor 'x'", "not a JSON object");
        refused(oneTensor("{\"shape\":[2],\"data_offsets\":[0,8]}", 8), "missing \"dtype\"");
        refused(oneTensor("{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}", 8), "\"dtype\" is not a string");
        refused(oneTensor("{\"dtype\":\"F32\",\"data_offsets\":[0,8]}", 8), "missing \"shape\"");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}", 8), "\"shape\" is not a JSON array");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}", 8), "\"shape\"", "not an integer");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}", 8), "not an integer");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,8]}", 8), "not an integer");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[2]}", 8), "missing \"data_offsets\"");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}", 8), "\"data_offsets\" has 1 entries");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}", 8), "\"data_offsets\" has 3 entries");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{\"a\":0}}", 8), "\"data_offsets\" is not a JSON array");
        refused(RawSafetensors.bytes("{\"__metadata__\":[]}", new byte[0]), "__metadata__ is not a JSON object");
        refused(RawSafetensors.bytes("{\"__metadata__\":{\"k\":1}}", new byte[0]), "__metadata__ entry 'k' is not a string");
    }

    @Test
    void negativeReversedAndOutOfRangeOffsets() {
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}", 8), "data_offsets [-8, 0]", "negative or reversed");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}", 8), "data_offsets [8, 0]", "negative or reversed");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}", 8), "data_offsets [8, 16]", "past the end of the 8-byte data section");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}", 8), "out of range");
    }

    @Test
    void byteSizeDisagreeingWithOffsets() {
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}", 8), "F32 shape [3] needs 12 bytes", "span 8");
        refused(oneTensor("{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,4]}", 4), "needs 8 bytes", "span 4");
    }

    @Test
    void negativeOrOverflowingDimensions() {
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}", 8), "dimension 0 of shape is -2");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[2,4294967296],\"data_offsets\":[0,8]}", 8), "dimension 1 of shape is 4294967296");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,8]}", 8), "overflows");
        refused(oneTensor("{\"dtype\":\"F64\",\"shape\":[2147483647,2147483647,4],\"data_offsets\":[0,8]}", 8), "overflows");
    }

    @Test
    void overlappingTensors() {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        refused(RawSafetensors.bytes(h, new byte[12]), "tensor 'b' [4, 12) overlaps tensor 'a' [0, 8)");
        String same = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}";
        refused(RawSafetensors.bytes(same, new byte[8]), "overlaps");
    }

    @Test
    void gapsAndTrailingBytes() {
        String h = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        refused(RawSafetensors.bytes(h, new byte[12]), "data bytes [4, 8) belong to no tensor", "'b'");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}", 8), "data bytes [0, 4) belong to no tensor");
        refused(oneTensor("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 9), "data section has 9 bytes", "cover only 4");
    }

    @Test
    void truncatedData() throws IOException {
        Path good = dir.resolve("good.safetensors");
        SafetensorsWriter.write(good, java.util.Map.of("w", dev.ldm4j.tensor.Tensor.zeros(100)));
        byte[] all = Files.readAllBytes(good);
        refused(Arrays.copyOf(all, all.length - 1), "tensor 'w'", "past the end", "truncated");
        refused(Arrays.copyOf(all, 20), "larger than");
    }

    @Test
    void namesWithControlCharactersStayOnOneLine() {
        refused(RawSafetensors.bytes("{\"x\\ny\\r\":{\"dtype\":\"F9\",\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]),
                "tensor 'x\\u000ay\\u000d'", "unknown dtype");
    }
}
