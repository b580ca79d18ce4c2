// Seeded mutation fuzzing of the safetensors reader: valid small files get bit flips, truncations,
// appended bytes, length-field edits and header edits (numbers, dtypes, names, inserted garbage,
// deleted spans). Each mutant must either open, and then read every tensor, or be refused with a
// one-line WeightException naming the file; any other throwable is a bug. The default run is
// 3000 cases (a few seconds); -Dldm4j.fuzz.cases=N and -Dldm4j.fuzz.seed=S run more or others.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class SafetensorsFuzzTest {
    private static final int CASES = Integer.getInteger("ldm4j.fuzz.cases", 3000);
    private static final long SEED = Long.getLong("ldm4j.fuzz.seed", 20261126L);

    private static final Pattern NUMBER = Pattern.compile("-?[0-9]+");
    private static final Pattern DTYPE_VALUE = Pattern.compile("\"dtype\":\"([A-Z0-9_]*)\"");
    private static final Pattern KEY = Pattern.compile("\"([^\"]*)\":\\{");
    private static final String[] NUMBERS = {"-1", "0", "1", "7", "4294967296", "2147483648", "9223372036854775807",
            "9223372036854775808", "-9223372036854775808", "99999999999999999999999", "1e3", "2.5", "-0", "null", "\"8\""};
    private static final String[] DTYPES = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL",
            "F8_E5M2", "f32", "", "U64"};
    private static final String[] NAMES = {"a", "x\\ny", "\\u0000", "__metadata__", "é", "", "a.b.c"};
    private static final String GARBAGE = "{}[]\",:0123456789-.eE tnfalsu\\é\u0000";

    @TempDir
    Path dir;

    @Test
    void mutatedFilesEitherOpenAndReadOrFailWithAOneLineWeightException() throws IOException {
        List<byte[]> bases = bases();
        Random master = new Random(SEED);
        int opened = 0;
        int refused = 0;
        for (int c = 0; c < CASES; c++) {
            long caseSeed = master.nextLong();
            Random r = new Random(caseSeed);
            byte[] mutant = mutate(bases.get(r.nextInt(bases.size())), r);
            if (r.nextInt(4) == 0) {
                mutant = mutate(mutant, r);
            }
            Path p = dir.resolve("case-" + c + ".safetensors");
            Files.write(p, mutant);
            String where = "case " + c + " (-Dldm4j.fuzz.seed=" + SEED + ", case seed " + caseSeed + ")";
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                for (String name : f.names()) {
                    TensorInfo info = f.info(name);
                    Tensor t = f.tensor(name);
                    assertEquals(info.numel(), t.toFloatArray().length, where + " " + name);
                }
                f.metadata().forEach((k, v) -> assertTrue(k != null && v != null));
                opened++;
            } catch (WeightException e) {
                String m = e.getMessage();
                assertTrue(m != null && m.startsWith(p + ": "), where + ": message does not name the file: " + m);
                assertTrue(m.indexOf('\n') < 0 && m.indexOf('\r') < 0, where + ": message is not one line: " + m);
                refused++;
            } catch (Throwable t) {
                fail(where + ": threw " + t, t);
            }
            Files.delete(p);
        }
        // Both outcomes must be exercised, or the mutations are not testing what they should.
        assertTrue(opened >= CASES / 20, "only " + opened + " of " + CASES + " mutants opened");
        assertTrue(refused >= CASES / 2, "only " + refused + " of " + CASES + " mutants were refused");
    }

    /** Valid files: writer output in F32/F16/BF16 with metadata, and a hand-made one with every dtype out of offset order. */
    private List<byte[]> bases() throws IOException {
        Random r = new Random(SEED);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("model.conv.weight", Tensor.of(gaussian(r, 2 * 3 * 2), 2, 3, 2));
        tensors.put("model.conv.bias", Tensor.of(gaussian(r, 2), 2));
        tensors.put("empty", Tensor.zeros(0, 4));
        tensors.put("scalar", Tensor.of(new float[]{3.5f}));
        List<byte[]> out = new ArrayList<>();
        for (DType dt : new DType[]{DType.F32, DType.F16, DType.BF16}) {
            Path p = dir.resolve("base-" + dt + ".safetensors");
            SafetensorsWriter.write(p, tensors, Map.of("format", "pt", "dtype", dt.name()), dt, false);
            out.add(Files.readAllBytes(p));
            Files.delete(p);
        }
        ByteBuffer d = ByteBuffer.allocate(31).order(ByteOrder.LITTLE_ENDIAN);
        d.putLong(-7).putDouble(0.25).putInt(9).putShort((short) -2).put((byte) 3).put((byte) 250).put((byte) 1)
                .putShort((short) 0x3c00).putShort((short) 0x7c01).put((byte) 0);
        String header = "{\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[22,23]},"
                + "\"i64\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[0,8]},"
                + "\"f64\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]},"
                + "\"i32\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[16,20]},"
                + "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[20,22]},"
                + "\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[23,24]},"
                + "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[24,25]},"
                + "\"f16\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[25,29]},"
                + "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[29,31]},"
                + "\"__metadata__\":{\"k\":\"v\"}}";
        out.add(RawSafetensors.bytes(header, d.array()));
        return out;
    }

    private static float[] gaussian(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    private static byte[] mutate(byte[] file, Random r) {
        if (file.length < 8) {
            return appendBytes(file, r);
        }
        long declared = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        boolean headerIntact = declared >= 0 && declared <= file.length - 8;
        int kind = r.nextInt(headerIntact ? 11 : 5);
        switch (kind) {
            case 0 -> {
                return flipBits(file, r, 0, file.length);
            }
            case 1 -> {
                return Arrays.copyOf(file, r.nextInt(file.length));
            }
            case 2 -> {
                return appendBytes(file, r);
            }
            case 3 -> {
                byte[] out = file.clone();
                long value = switch (r.nextInt(4)) {
                    case 0 -> declared + r.nextInt(17) - 8;
                    case 1 -> r.nextLong();
                    case 2 -> SafetensorsFile.MAX_HEADER_BYTES + r.nextInt(3) - 1;
                    default -> r.nextInt(file.length + 1);
                };
                ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value);
                return out;
            }
            case 4 -> {
                return flipBits(file, r, 0, Math.min(file.length, 8));
            }
            default -> {
                int n = (int) declared;
                byte[] header = Arrays.copyOfRange(file, 8, 8 + n);
                byte[] data = Arrays.copyOfRange(file, 8 + n, file.length);
                byte[] edited = switch (kind) {
                    case 5 -> flipBits(header, r, 0, header.length);
                    case 6 -> replaceOne(header, NUMBER, NUMBERS[r.nextInt(NUMBERS.length)], r, 0);
                    case 7 -> replaceOne(header, DTYPE_VALUE, DTYPES[r.nextInt(DTYPES.length)], r, 1);
                    case 8 -> replaceOne(header, KEY, r.nextBoolean() ? NAMES[r.nextInt(NAMES.length)] : existingKey(header, r), r, 1);
                    case 9 -> insertGarbage(header, r);
                    default -> deleteSpan(header, r);
                };
                long length = r.nextInt(5) == 0 ? n : edited.length;
                return RawSafetensors.bytes(edited, length, data);
            }
        }
    }

    private static byte[] flipBits(byte[] b, Random r, int from, int to) {
        byte[] out = b.clone();
        if (to <= from) {
            return out;
        }
        for (int k = 1 + r.nextInt(4); k > 0; k--) {
            out[from + r.nextInt(to - from)] ^= (byte) (1 << r.nextInt(8));
        }
        return out;
    }

    private static byte[] appendBytes(byte[] b, Random r) {
        byte[] extra = new byte[1 + r.nextInt(16)];
        r.nextBytes(extra);
        return RawSafetensors.concat(b, extra);
    }

    /** Replaces one match of p (the whole match, or group g) in the header text. */
    private static byte[] replaceOne(byte[] header, Pattern p, String replacement, Random r, int group) {
        String text = new String(header, StandardCharsets.UTF_8);
        List<int[]> spans = new ArrayList<>();
        Matcher m = p.matcher(text);
        while (m.find()) {
            spans.add(new int[]{m.start(group), m.end(group)});
        }
        if (spans.isEmpty()) {
            return insertGarbage(header, r);
        }
        int[] s = spans.get(r.nextInt(spans.size()));
        return (text.substring(0, s[0]) + replacement + text.substring(s[1])).getBytes(StandardCharsets.UTF_8);
    }

    private static String existingKey(byte[] header, Random r) {
        Matcher m = KEY.matcher(new String(header, StandardCharsets.UTF_8));
        List<String> keys = new ArrayList<>();
        while (m.find()) {
            keys.add(m.group(1));
        }
        return keys.isEmpty() ? "a" : keys.get(r.nextInt(keys.size()));
    }

    private static byte[] insertGarbage(byte[] header, Random r) {
        StringBuilder g = new StringBuilder();
        for (int k = 1 + r.nextInt(6); k > 0; k--) {
            g.append(GARBAGE.charAt(r.nextInt(GARBAGE.length())));
        }
        byte[] garbage = r.nextInt(4) == 0 ? randomBytes(r) : g.toString().getBytes(StandardCharsets.UTF_8);
        int at = r.nextInt(header.length + 1);
        return RawSafetensors.concat(Arrays.copyOf(header, at), garbage, Arrays.copyOfRange(header, at, header.length));
    }

    private static byte[] randomBytes(Random r) {
        byte[] b = new byte[1 + r.nextInt(4)];
        r.nextBytes(b);
        return b;
    }

    private static byte[] deleteSpan(byte[] header, Random r) {
        if (header.length == 0) {
            return header;
        }
        int from = r.nextInt(header.length);
        int to = Math.min(header.length, from + 1 + r.nextInt(12));
        return RawSafetensors.concat(Arrays.copyOf(header, from), Arrays.copyOfRange(header, to, header.length));
    }
}
