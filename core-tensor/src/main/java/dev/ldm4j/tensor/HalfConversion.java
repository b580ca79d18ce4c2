// Conversions between float32 and the two 16-bit float formats of checkpoints: IEEE binary16 (F16)
// and bfloat16 (BF16, the top half of a float32). Widening is exact (subnormals, ±0, ±inf and NaN
// payloads included); narrowing rounds to nearest, ties to even. The bulk methods read little-endian
// 16-bit values from a MemorySegment (usually a memory-mapped checkpoint) into a float[]: BF16 with
// the Vector API (its scalar loop beside it is the reference), F16 with a loop C2 already compiles to
// packed hardware conversions.
package dev.ldm4j.tensor;

import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

public final class HalfConversion {
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    // One int lane per 16-bit input: the shorts are loaded at half the int vector's bit width.
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(INTS.vectorBitSize() / 2));
    private static final int LANES = INTS.length();

    private HalfConversion() {
    }

    /** Exact value of an IEEE binary16 bit pattern. */
    public static float f16ToF32(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** Exact value of a bfloat16 bit pattern (the high 16 bits of a float32). */
    public static float bf16ToF32(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** The binary16 nearest to f (ties to even); overflow gives ±inf, NaN stays NaN. */
    public static short f32ToF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** The bfloat16 nearest to f (ties to even); overflow gives ±inf, NaN stays a (quiet) NaN of the same sign. */
    public static short f32ToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fff_ffff) > 0x7f80_0000) {
            // NaN: keep sign and the top payload bits, force the quiet bit so truncation cannot make it inf.
            return (short) ((bits >>> 16) | 0x0040);
        }
        // Adding 0x7fff plus the lowest kept bit rounds to nearest, ties to even; a carry into the
        // exponent is the correct result (the next binade, or inf past the largest finite value).
        int roundingBias = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /**
     * Widens count elements of dtype (F32, F16 or BF16, little-endian) starting at byteOffset of src
     * into dst[dstOffset ..].
     */
    public static void toF32(MemorySegment src, long byteOffset, DType dtype, float[] dst, int dstOffset, int count) {
        switch (dtype) {
            case F16 -> f16ToF32(src, byteOffset, dst, dstOffset, count);
            case BF16 -> bf16ToF32(src, byteOffset, dst, dstOffset, count);
            case F32 -> MemorySegment.copy(src, FLOAT_LE, byteOffset, dst, dstOffset, count);
            default -> throw new IllegalArgumentException("toF32 reads F32, F16 or BF16, not " + dtype);
        }
    }

    /**
     * Widens count little-endian binary16 values at byteOffset of src into dst[dstOffset ..].
     * A plain loop: C2 compiles Float.float16ToFloat over a MemorySegment into packed hardware
     * conversions (vcvtph2ps), measured 2.5x faster than the bit-manipulation Vector API version
     * (bench/SAFETENSORS-RESULTS.md).
     */
    public static void f16ToF32(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int count) {
        checkRange(src, byteOffset, dst, dstOffset, count);
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = Float.float16ToFloat(src.get(SHORT_LE, byteOffset + 2L * i));
        }
    }

    /** Widens count little-endian bfloat16 values at byteOffset of src into dst[dstOffset ..]. */
    public static void bf16ToF32(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int count) {
        checkRange(src, byteOffset, dst, dstOffset, count);
        int i = 0;
        int bound = count - count % LANES;
        for (; i < bound; i += LANES) {
            IntVector h = ShortVector.fromMemorySegment(SHORTS, src, byteOffset + 2L * i, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.S2I, INTS, 0).reinterpretAsInts();
            // The sign extension of S2I is shifted out: the 16 bits become the float's high half.
            h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOffset + i);
        }
        for (; i < count; i++) {
            dst[dstOffset + i] = bf16ToF32(src.get(SHORT_LE, byteOffset + 2L * i));
        }
    }

    /** Scalar reference for {@link #bf16ToF32(MemorySegment, long, float[], int, int)}. */
    public static void bf16ToF32Scalar(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int count) {
        checkRange(src, byteOffset, dst, dstOffset, count);
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = bf16ToF32(src.get(SHORT_LE, byteOffset + 2L * i));
        }
    }

    private static void checkRange(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int count) {
        if (count < 0 || dstOffset < 0 || dstOffset > dst.length - count
                || byteOffset < 0 || byteOffset > src.byteSize() - 2L * count) {
            throw new IndexOutOfBoundsException("convert " + count + " halves at byte " + byteOffset + " of a "
                    + src.byteSize() + "-byte segment into float[" + dst.length + "] at " + dstOffset);
        }
    }
}
