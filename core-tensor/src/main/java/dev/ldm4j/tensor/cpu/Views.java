// Reading tensor views (strided, broadcast, offset; F32 heap arrays or F16/BF16/F32 memory segments)
// as dense row-major F32 data, the form every CPU kernel computes on.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.HalfConversion;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Storage;
import dev.ldm4j.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

final class Views {
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Views() {
    }

    /** A dense row-major F32 run: element i of the tensor is a[off + i]. Never write into a. */
    record Flat(float[] a, int off) {
    }

    /** The tensor's elements as a Flat, sharing the heap array when the tensor is already dense F32. */
    static Flat flat(Tensor t) {
        if (t.storage() instanceof FloatStorage fs && t.isContiguous()) {
            return new Flat(fs.data(), Math.toIntExact(t.offset()));
        }
        float[] out = new float[Math.toIntExact(t.numel())];
        copyInto(t, out, 0);
        return new Flat(out, 0);
    }

    /** The tensor's elements as a new dense float array (always a copy). */
    static float[] copy(Tensor t) {
        float[] out = new float[Math.toIntExact(t.numel())];
        copyInto(t, out, 0);
        return out;
    }

    /** A dense F32 host tensor over the same values; t itself when it already is one. */
    static Tensor dense(Tensor t) {
        if (t.storage() instanceof FloatStorage fs && t.isContiguous() && t.offset() == 0 && fs.data().length == t.numel()) {
            return t;
        }
        return Tensor.of(copy(t), t.shape());
    }

    /** An F32 heap view with t's shape and strides (copied densely only when t is not on the heap). */
    static Tensor heap(Tensor t) {
        return t.storage() instanceof FloatStorage ? t : Tensor.of(copy(t), t.shape());
    }

    /** Writes t's elements in row-major order into dst from dstOff on, widening F16/BF16. */
    static void copyInto(Tensor t, float[] dst, int dstOff) {
        int n = Math.toIntExact(t.numel());
        if (n == 0) {
            return;
        }
        int[] shape = t.shape();
        long[] strides = t.strides();
        int rank = shape.length;
        if (rank == 0) {
            dst[dstOff] = t.storage().getFloat(t.offset());
            return;
        }
        int inner = shape[rank - 1];
        long innerStride = strides[rank - 1];
        if (t.isContiguous()) {
            inner = n;
            innerStride = 1;
            rank = 1;
        }
        int rows = n / inner;
        int[] idx = new int[Math.max(0, rank - 1)];
        long base = t.offset();
        Storage s = t.storage();
        for (int r = 0; r < rows; r++) {
            copyRow(s, base, innerStride, inner, dst, dstOff + r * inner);
            for (int i = rank - 2; i >= 0; i--) {
                base += strides[i];
                if (++idx[i] < shape[i]) {
                    break;
                }
                base -= strides[i] * shape[i];
                idx[i] = 0;
            }
        }
    }

    /** dst[dstOff + j] = element (base + j * stride) of s, for j < n. */
    static void copyRow(Storage s, long base, long stride, int n, float[] dst, int dstOff) {
        if (s instanceof FloatStorage fs) {
            float[] a = fs.data();
            int b = Math.toIntExact(base);
            if (stride == 1) {
                System.arraycopy(a, b, dst, dstOff, n);
            } else if (stride == 0) {
                Arrays.fill(dst, dstOff, dstOff + n, a[b]);
            } else {
                int st = Math.toIntExact(stride);
                for (int j = 0; j < n; j++) {
                    dst[dstOff + j] = a[b + j * st];
                }
            }
        } else if (s instanceof SegmentStorage ss && ss.dtype() != DType.F64 && ss.dtype().isFloating()) {
            readSegment(ss.segment(), ss.dtype(), base, stride, n, dst, dstOff);
        } else {
            for (int j = 0; j < n; j++) {
                dst[dstOff + j] = s.getFloat(base + j * stride);
            }
        }
    }

    /** Widens n elements of an F32/F16/BF16 little-endian segment, starting at element base, step stride. */
    static void readSegment(MemorySegment seg, DType dtype, long base, long stride, int n, float[] dst, int dstOff) {
        if (stride == 1) {
            HalfConversion.toF32(seg, base * dtype.byteSize(), dtype, dst, dstOff, n);
            return;
        }
        switch (dtype) {
            case F32 -> {
                for (int j = 0; j < n; j++) {
                    dst[dstOff + j] = seg.get(FLOAT_LE, (base + j * stride) * 4);
                }
            }
            case F16 -> {
                for (int j = 0; j < n; j++) {
                    dst[dstOff + j] = Float.float16ToFloat(seg.get(SHORT_LE, (base + j * stride) * 2));
                }
            }
            case BF16 -> {
                for (int j = 0; j < n; j++) {
                    dst[dstOff + j] = Float.intBitsToFloat((seg.get(SHORT_LE, (base + j * stride) * 2) & 0xffff) << 16);
                }
            }
            default -> throw new IllegalArgumentException("cannot read " + dtype + " as floats");
        }
    }

    /** Checks that t is a host tensor of a floating dtype the CPU backend can read. */
    static void requireHostFloat(String op, String what, Tensor t) {
        if (t == null) {
            throw new IllegalArgumentException(op + ": " + what + " is null");
        }
        if (t.device() != dev.ldm4j.tensor.Device.CPU) {
            throw new IllegalArgumentException(op + ": " + what + " " + t + " is not on the cpu device");
        }
        if (!t.dtype().isFloating()) {
            throw new IllegalArgumentException(op + ": " + what + " " + t + " must be F32, F16 or BF16, not " + t.dtype());
        }
    }
}
