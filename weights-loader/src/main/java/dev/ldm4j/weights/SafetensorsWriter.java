// Writes named host tensors to a .safetensors file: floating tensors in a chosen dtype (F32, F16 or
// BF16, rounding to nearest even), integer and bool tensors as they are. The header is padded with
// spaces to a multiple of 8 bytes so the data section starts aligned, and tensors are laid out in
// the map's order. The file is written to a temporary file in the target directory and moved into
// place atomically, so a reader never sees a half-written checkpoint; an existing file is replaced
// only when asked.
package dev.ldm4j.weights;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Device;
import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.HalfConversion;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;

public final class SafetensorsWriter {
    /** Elements converted per chunk while streaming a tensor to the file. */
    private static final int CHUNK = 1 << 16;

    private SafetensorsWriter() {
    }

    /** Writes tensors in their own dtypes (F32 for heap tensors); refuses to replace an existing file. */
    public static void write(Path file, Map<String, Tensor> tensors) {
        write(file, tensors, Map.of(), null, false);
    }

    /** Writes floating tensors as dtype (F32, F16 or BF16); refuses to replace an existing file. */
    public static void write(Path file, Map<String, Tensor> tensors, DType dtype) {
        write(file, tensors, Map.of(), dtype, false);
    }

    /**
     * Writes tensors (in the map's iteration order) and metadata to file.
     *
     * @param dtype     F32, F16 or BF16 for every floating tensor, or null to keep each tensor's dtype;
     *                  integer and bool tensors always keep theirs
     * @param overwrite replace file when it exists (otherwise that is an error)
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata, DType dtype, boolean overwrite) {
        String where = file.toString();
        if (dtype != null && dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw new WeightException(where + ": cannot write floating tensors as " + dtype + " (choose F32, F16 or BF16)");
        }
        if (!overwrite && Files.exists(file)) {
            throw new WeightException(where + ": file exists (it is replaced only when overwriting is asked for)");
        }
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            if (e.getKey() == null || e.getValue() == null) {
                throw new WeightException(where + ": metadata keys and values must not be null");
            }
        }
        DType[] dtypes = new DType[tensors.size()];
        int i = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            dtypes[i++] = targetDtype(where, e.getKey(), e.getValue(), dtype);
        }
        byte[] header = header(tensors, metadata, dtypes);
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            // Files.createFile keeps the default permissions (umask); createTempFile would make it owner-only.
            tmp = Files.createFile(dir.resolve("." + file.getFileName() + "." + Long.toHexString(System.nanoTime()) + ".tmp"));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(header));
                ByteBuffer buf = ByteBuffer.allocate(CHUNK * 4).order(ByteOrder.LITTLE_ENDIAN);
                i = 0;
                for (Tensor t : tensors.values()) {
                    writeTensor(ch, t, dtypes[i++], buf);
                }
                ch.force(true);
            }
            if (overwrite) {
                keepMode(file, tmp);
                moveAtomically(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            } else {
                moveAtomically(tmp, file);
            }
            tmp = null;
        } catch (FileAlreadyExistsException e) {
            throw new WeightException(where + ": file exists (it is replaced only when overwriting is asked for)");
        } catch (IOException e) {
            throw new WeightException(where + ": cannot write: " + IoErrors.reason(e));
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the temporary file stays behind; the error that brought us here is the one to report
                }
            }
        }
    }

    /** Gives tmp the permissions of the file it will replace, so overwriting never changes who may read it. */
    private static void keepMode(Path file, Path tmp) throws IOException {
        if (Files.exists(file)) {
            try {
                Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(file));
            } catch (UnsupportedOperationException notPosix) {
                // no POSIX permissions on this file system: nothing to keep
            }
        }
    }

    private static void moveAtomically(Path from, Path to, StandardCopyOption... options) throws IOException {
        if (options.length == 0) {
            // A hard link fails when the target exists, so no file appearing meanwhile is replaced.
            try {
                Files.createLink(to, from);
                Files.delete(from);
                return;
            } catch (FileAlreadyExistsException e) {
                throw e;
            } catch (UnsupportedOperationException | FileSystemException e) {
                // no hard links here: fall back to a check and a plain atomic move
                if (Files.exists(to)) {
                    throw new FileAlreadyExistsException(to.toString());
                }
            }
        }
        try {
            Files.move(from, to, concat(options, StandardCopyOption.ATOMIC_MOVE));
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, options);
        }
    }

    private static StandardCopyOption[] concat(StandardCopyOption[] a, StandardCopyOption b) {
        StandardCopyOption[] out = Arrays.copyOf(a, a.length + 1);
        out[a.length] = b;
        return out;
    }

    private static DType targetDtype(String where, String name, Tensor t, DType requested) {
        if (name.equals("__metadata__")) {
            throw new WeightException(where + ": \"__metadata__\" is reserved and cannot name a tensor");
        }
        if (t.device() != Device.CPU) {
            throw new WeightException(where + ": tensor " + SafetensorsFile.quote(name) + " is on " + t.device().label()
                    + "; copy it to the host before writing");
        }
        if (!t.dtype().isFloating()) {
            if (!(t.storage() instanceof SegmentStorage)) {
                throw new WeightException(where + ": tensor " + SafetensorsFile.quote(name) + " has dtype " + t.dtype()
                        + " in a storage that cannot be copied byte for byte");
            }
            return t.dtype();
        }
        if (requested != null) {
            return requested;
        }
        if (t.dtype() == DType.F64 && !(t.storage() instanceof SegmentStorage)) {
            throw new WeightException(where + ": tensor " + SafetensorsFile.quote(name) + " is F64 in a storage that cannot be copied; choose F32");
        }
        return t.dtype();
    }

    private static byte[] header(Map<String, Tensor> tensors, Map<String, String> metadata, DType[] dtypes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = new JsonFactory().createGenerator(out)) {
            g.writeStartObject();
            if (!metadata.isEmpty()) {
                g.writeObjectFieldStart("__metadata__");
                for (Map.Entry<String, String> e : metadata.entrySet()) {
                    g.writeStringField(e.getKey(), e.getValue());
                }
                g.writeEndObject();
            }
            long offset = 0;
            int i = 0;
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                Tensor t = e.getValue();
                long bytes = Math.multiplyExact(t.numel(), (long) dtypes[i].byteSize());
                g.writeObjectFieldStart(e.getKey());
                g.writeStringField("dtype", dtypes[i].name());
                g.writeArrayFieldStart("shape");
                for (int d : t.shape()) {
                    g.writeNumber(d);
                }
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(offset);
                g.writeNumber(offset + bytes);
                g.writeEndArray();
                g.writeEndObject();
                offset += bytes;
                i++;
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new IllegalStateException("writing JSON to memory failed", e);
        }
        StringBuilder json = new StringBuilder(out.toString(StandardCharsets.UTF_8));
        int length = out.size();
        while (length % 8 != 0) {
            json.append(' ');
            length++;
        }
        return json.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void writeTensor(FileChannel ch, Tensor t, DType target, ByteBuffer buf) throws IOException {
        long n = t.numel();
        if (n == 0) {
            return;
        }
        if (t.storage() instanceof SegmentStorage s && s.dtype() == target && t.isContiguous()) {
            long size = target.byteSize();
            MemorySegment bytes = s.segment().asSlice(t.offset() * size, n * size);
            for (long at = 0; at < bytes.byteSize(); at += Integer.MAX_VALUE / 2) {
                long len = Math.min(Integer.MAX_VALUE / 2, bytes.byteSize() - at);
                writeFully(ch, bytes.asSlice(at, len).asByteBuffer());
            }
            return;
        }
        if (!target.isFloating() || target == DType.F64) {
            writeRawStrided(ch, t, (SegmentStorage) t.storage(), buf);
            return;
        }
        float[] chunk = new float[(int) Math.min(CHUNK, n)];
        ElementCursor cursor = new ElementCursor(t);
        for (long done = 0; done < n; ) {
            int count = (int) Math.min(chunk.length, n - done);
            readFloats(t, cursor, done, chunk, count);
            buf.clear();
            for (int k = 0; k < count; k++) {
                switch (target) {
                    case F32 -> buf.putFloat(chunk[k]);
                    case F16 -> buf.putShort(HalfConversion.f32ToF16(chunk[k]));
                    case BF16 -> buf.putShort(HalfConversion.f32ToBf16(chunk[k]));
                    default -> throw new IllegalStateException("unexpected target " + target);
                }
            }
            writeFully(ch, buf.flip());
            done += count;
        }
    }

    /** Fills chunk with elements [first, first + count) in row-major order, fast for contiguous host storages. */
    private static void readFloats(Tensor t, ElementCursor cursor, long first, float[] chunk, int count) {
        if (t.isContiguous()) {
            long start = t.offset() + first;
            if (t.storage() instanceof FloatStorage fs) {
                System.arraycopy(fs.data(), Math.toIntExact(start), chunk, 0, count);
                return;
            }
            if (t.storage() instanceof SegmentStorage s && (s.dtype() == DType.F16 || s.dtype() == DType.BF16 || s.dtype() == DType.F32)) {
                HalfConversion.toF32(s.segment(), start * s.dtype().byteSize(), s.dtype(), chunk, 0, count);
                return;
            }
        }
        for (int k = 0; k < count; k++) {
            chunk[k] = t.storage().getFloat(cursor.next());
        }
    }

    private static void writeRawStrided(FileChannel ch, Tensor t, SegmentStorage s, ByteBuffer buf) throws IOException {
        int size = s.dtype().byteSize();
        ElementCursor cursor = new ElementCursor(t);
        buf.clear();
        for (long k = 0; k < t.numel(); k++) {
            MemorySegment element = s.segment().asSlice(cursor.next() * size, size);
            if (buf.remaining() < size) {
                writeFully(ch, buf.flip());
                buf.clear();
            }
            buf.put(element.asByteBuffer());
        }
        writeFully(ch, buf.flip());
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Walks the storage indices of a (possibly strided) view in row-major order. */
    private static final class ElementCursor {
        private final int[] shape;
        private final long[] strides;
        private final int[] idx;
        private long at;

        ElementCursor(Tensor t) {
            shape = t.shape();
            strides = t.strides();
            idx = new int[shape.length];
            at = t.offset();
        }

        long next() {
            long current = at;
            for (int i = shape.length - 1; i >= 0; i--) {
                at += strides[i];
                if (++idx[i] < shape[i]) {
                    return current;
                }
                at -= strides[i] * shape[i];
                idx[i] = 0;
            }
            return current;
        }
    }
}
