// One .safetensors file, memory-mapped: tensors are read-only views over slices of the mapping, so
// opening costs a header parse, not a copy of the data.
//
// Format (https://github.com/huggingface/safetensors): an 8-byte little-endian unsigned header
// length N, N bytes of UTF-8 JSON (possibly padded with trailing spaces), then the data section.
// The JSON maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data section) plus an optional "__metadata__" map of strings. The tensors must
// cover the data section exactly: no overlaps, no gaps, nothing left over.
//
// Every defect of a file is reported as a WeightException with one line naming the file and the
// problem; parsing checks sizes before allocating and uses exact arithmetic on all offsets.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

public final class SafetensorsFile implements WeightSource {
    /** Largest header accepted (the reference implementation's limit): refused before any allocation. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final String METADATA_KEY = "__metadata__";

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private volatile boolean closed;

    /** Where one tensor lies in the data section. */
    private record Entry(TensorInfo info, long begin, long end) {
    }

    /** The parsed header: tensors in file order, and the metadata. */
    private record Header(Map<String, Entry> entries, Map<String, String> metadata) {
    }

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, Header header) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.entries = header.entries;
        this.metadata = header.metadata;
    }

    /** Maps the file and parses its header; throws WeightException (one line, naming the file) when it is malformed. */
    public static SafetensorsFile open(Path path) {
        String where = path.toString();
        if (Files.isDirectory(path)) {
            throw fail(where, "is a directory, not a .safetensors file");
        }
        if (Files.exists(path) && !Files.isRegularFile(path)) {
            // a pipe or device could block or never end; only plain files can be mapped
            throw fail(where, "is not a regular file");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw fail(where, "file is " + size + " bytes, too short for the 8-byte header length");
            }
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLength = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLength < 0 || headerLength > size - 8) {
                throw fail(where, "header length " + Long.toUnsignedString(headerLength) + " is larger than the "
                        + (size - 8) + " bytes after the length field (not a safetensors file, or truncated)");
            }
            if (headerLength > MAX_HEADER_BYTES) {
                throw fail(where, "header length " + headerLength + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
            }
            byte[] headerBytes = file.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
            long dataStart = 8 + headerLength;
            Header header = parseHeader(where, headerBytes, size - dataStart);
            return new SafetensorsFile(path, arena, file.asSlice(dataStart).asReadOnly(), header);
        } catch (NoSuchFileException e) {
            arena.close();
            throw fail(where, "no such file");
        } catch (IOException e) {
            arena.close();
            throw fail(where, "cannot read: " + e.getMessage());
        } catch (RuntimeException e) {
            arena.close();
            throw e instanceof WeightException w ? w : fail(where, "cannot open: " + e);
        }
    }

    @Override
    public Set<String> names() {
        return Collections.unmodifiableSet(entries.keySet());
    }

    @Override
    public TensorInfo info(String name) {
        Entry e = entries.get(name);
        return e == null ? null : e.info;
    }

    /** A read-only view over the tensor's bytes in the mapping; valid until close(). */
    @Override
    public Tensor tensor(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw fail(path.toString(), "no tensor named " + quote(name));
        }
        if (closed) {
            throw fail(path.toString(), "file is closed; cannot read tensor " + quote(name));
        }
        MemorySegment bytes = data.asSlice(e.begin, e.end - e.begin);
        return Tensor.of(new SegmentStorage(bytes, e.info.dtype()), e.info.shape());
    }

    /** The "__metadata__" strings of the header (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    public Path path() {
        return path;
    }

    @Override
    public String origin() {
        return path.toString();
    }

    /** Unmaps the file; tensors obtained from it must not be used afterwards. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    // ---- header parsing ----

    /** Parses and validates a header; dataLength is the number of bytes after it. */
    private static Header parseHeader(String where, byte[] headerBytes, long dataLength) {
        String text;
        try {
            text = Json.strictUtf8(headerBytes);
        } catch (Json.JsonException e) {
            throw fail(where, "header is not valid UTF-8");
        }
        Object root;
        try {
            root = Json.parse(text);
        } catch (Json.JsonException e) {
            String m = String.valueOf(e.getMessage());
            if (m.startsWith("Duplicate field ")) {
                throw fail(where, "header has a duplicate key " + m.substring("Duplicate field ".length()));
            }
            throw fail(where, "header is not valid JSON: " + m);
        } catch (RuntimeException e) {
            throw fail(where, "header is not valid JSON: " + e);
        }
        if (!(root instanceof Map<?, ?> top)) {
            throw fail(where, "header is not a JSON object");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<?, ?> kv : top.entrySet()) {
            String name = (String) kv.getKey();
            if (name.equals(METADATA_KEY)) {
                metadata = parseMetadata(where, kv.getValue());
            } else {
                entries.put(name, parseEntry(where, name, kv.getValue(), dataLength));
            }
        }
        checkCoverage(where, entries, dataLength);
        return new Header(Collections.unmodifiableMap(entries), metadata);
    }

    private static Map<String, String> parseMetadata(String where, Object value) {
        if (!(value instanceof Map<?, ?> m)) {
            throw fail(where, METADATA_KEY + " is not a JSON object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> kv : m.entrySet()) {
            if (!(kv.getValue() instanceof String s)) {
                throw fail(where, METADATA_KEY + " entry " + quote((String) kv.getKey()) + " is not a string");
            }
            out.put((String) kv.getKey(), s);
        }
        return Collections.unmodifiableMap(out);
    }

    private static Entry parseEntry(String where, String name, Object value, long dataLength) {
        String t = "tensor " + quote(name);
        if (!(value instanceof Map<?, ?> m)) {
            throw fail(where, t + ": entry is not a JSON object");
        }
        Object dtypeValue = m.get("dtype");
        if (!(dtypeValue instanceof String dtypeName)) {
            throw fail(where, t + ": " + (dtypeValue == null ? "missing \"dtype\"" : "\"dtype\" is not a string"));
        }
        DType dtype = DType.fromSafetensorsName(dtypeName);
        if (dtype == null) {
            throw fail(where, t + ": unknown dtype " + quote(dtypeName) + " (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
        }
        List<?> shapeList = list(where, t, m, "shape");
        int[] shape = new int[shapeList.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            long d = integer(where, t, "shape", shapeList.get(i));
            if (d < 0 || d > Integer.MAX_VALUE) {
                throw fail(where, t + ": dimension " + i + " of shape is " + d + " (must be 0 to " + Integer.MAX_VALUE + ")");
            }
            shape[i] = (int) d;
            numel = multiply(where, t, numel, d);
        }
        long byteSize = multiply(where, t, numel, dtype.byteSize());
        List<?> offsets = list(where, t, m, "data_offsets");
        if (offsets.size() != 2) {
            throw fail(where, t + ": \"data_offsets\" has " + offsets.size() + " entries, expected [begin, end]");
        }
        long begin = integer(where, t, "data_offsets", offsets.get(0));
        long end = integer(where, t, "data_offsets", offsets.get(1));
        String span = "data_offsets [" + begin + ", " + end + "]";
        if (begin < 0 || end < begin) {
            throw fail(where, t + ": " + span + " are negative or reversed");
        }
        if (end - begin != byteSize) {
            throw fail(where, t + ": " + dtype + " shape " + java.util.Arrays.toString(shape) + " needs " + byteSize
                    + " bytes but " + span + " span " + (end - begin));
        }
        if (end > dataLength) {
            throw fail(where, t + ": " + span + " run past the end of the " + dataLength + "-byte data section (file truncated?)");
        }
        return new Entry(new TensorInfo(name, dtype, shape), begin, end);
    }

    /** The tensors must tile [0, dataLength) exactly, in whatever order the header lists them. */
    private static void checkCoverage(String where, Map<String, Entry> entries, long dataLength) {
        List<Entry> byOffset = new ArrayList<>(entries.values());
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long covered = 0;
        Entry previous = null;
        for (Entry e : byOffset) {
            if (e.begin < covered) {
                throw fail(where, "tensor " + quote(e.info.name()) + " [" + e.begin + ", " + e.end + ") overlaps tensor "
                        + quote(previous.info.name()) + " [" + previous.begin + ", " + previous.end + ")");
            }
            if (e.begin > covered) {
                throw fail(where, "data bytes [" + covered + ", " + e.begin + ") belong to no tensor (gap before tensor "
                        + quote(e.info.name()) + ")");
            }
            covered = e.end;
            if (e.end > e.begin) {
                previous = e;
            }
        }
        if (covered != dataLength) {
            throw fail(where, "data section has " + dataLength + " bytes but the tensors cover only " + covered
                    + " (trailing bytes belong to no tensor)");
        }
    }

    private static List<?> list(String where, String t, Map<?, ?> m, String field) {
        Object v = m.get(field);
        if (!(v instanceof List<?> l)) {
            throw fail(where, t + ": " + (v == null ? "missing \"" + field + "\"" : "\"" + field + "\" is not a JSON array"));
        }
        return l;
    }

    private static long integer(String where, String t, String field, Object v) {
        if (v instanceof Long l) {
            return l;
        }
        if (v instanceof BigInteger b) {
            throw fail(where, t + ": \"" + field + "\" value " + b + " is out of range");
        }
        throw fail(where, t + ": \"" + field + "\" holds " + (v == null ? "null" : quote(String.valueOf(v))) + ", not an integer");
    }

    private static long multiply(String where, String t, long a, long b) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw fail(where, t + ": size overflows 64 bits");
        }
    }

    /** A name or value for a message: quoted, control characters escaped, very long ones shortened. */
    static String quote(String s) {
        String body = s.length() > 160 ? s.substring(0, 160) + "..." : s;
        return "'" + oneLine(body) + "'";
    }

    /** Escapes control characters so a message stays on one line. */
    static String oneLine(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029' || c == '\u0085') {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    static WeightException fail(String where, String what) {
        String message = oneLine(where + ": " + what);
        return new WeightException(message.length() > 1000 ? message.substring(0, 1000) + "..." : message);
    }
}
