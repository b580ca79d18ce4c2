// Checks HalfConversion over every 16-bit pattern: the vectorized bulk widening against the scalar
// reference (bit for bit), the scalar F16 widening against the IEEE formula, and the rounding of
// the narrowing conversions.
package dev.ldm4j.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HalfConversionTest {
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** All 65536 patterns in order, written little-endian one byte into the segment (an unaligned start). */
    private static MemorySegment allPatterns(Arena arena) {
        MemorySegment seg = arena.allocate(1 + 2 * 65536);
        for (int b = 0; b < 65536; b++) {
            seg.set(SHORT_LE, 1 + 2L * b, (short) b);
        }
        return seg;
    }

    /** The binary16 value from its definition: (-1)^s * 2^(e-15) * (1 + m/1024), or 2^-14 * m/1024 when e = 0. */
    private static double f16Formula(int bits) {
        int s = (bits >> 15) & 1, e = (bits >> 10) & 0x1f, m = bits & 0x3ff;
        double mag = e == 0 ? Math.scalb(m / 1024.0, -14) : Math.scalb(1 + m / 1024.0, e - 15);
        if (e == 31) {
            mag = m == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        }
        return s == 1 ? -mag : mag;
    }

    @Test
    void scalarF16WideningMatchesTheIeeeFormulaForAllPatterns() {
        for (int b = 0; b < 65536; b++) {
            float got = HalfConversion.f16ToF32((short) b);
            double want = f16Formula(b);
            if (Double.isNaN(want)) {
                assertTrue(Float.isNaN(got), "pattern " + Integer.toHexString(b));
            } else {
                assertEquals(Double.doubleToRawLongBits(want), Double.doubleToRawLongBits(got), "pattern " + Integer.toHexString(b));
            }
        }
    }

    @Test
    void bulkF16WideningEqualsScalarReferenceBitForBitForAllPatterns() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = allPatterns(arena);
            float[] fast = new float[65536 + 3];
            HalfConversion.f16ToF32(seg, 1, fast, 3, 65536);
            for (int b = 0; b < 65536; b++) {
                assertEquals(Float.floatToRawIntBits(Float.float16ToFloat((short) b)), Float.floatToRawIntBits(fast[3 + b]),
                        "pattern " + Integer.toHexString(b));
            }
        }
    }

    @Test
    void bulkBf16WideningEqualsScalarReferenceBitForBitForAllPatterns() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = allPatterns(arena);
            float[] fast = new float[65536];
            float[] ref = new float[65536];
            HalfConversion.bf16ToF32(seg, 1, fast, 0, 65536);
            HalfConversion.bf16ToF32Scalar(seg, 1, ref, 0, 65536);
            for (int b = 0; b < 65536; b++) {
                assertEquals(b << 16, Float.floatToRawIntBits(ref[b]), "pattern " + Integer.toHexString(b));
                assertEquals(Float.floatToRawIntBits(ref[b]), Float.floatToRawIntBits(fast[b]), "pattern " + Integer.toHexString(b));
            }
        }
    }

    @Test
    void bulkWideningHandlesEveryTailLengthAndOffset() {
        Random rnd = new Random(7);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(2 * 200 + 8);
            for (long i = 0; i < seg.byteSize(); i++) {
                seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
            }
            for (int count = 0; count <= 100; count++) {
                for (int off = 0; off < 3; off++) {
                    float[] fast = new float[count + 2];
                    float[] ref = new float[count + 2];
                    HalfConversion.f16ToF32(seg, off, fast, 2, count);
                    for (int i = 0; i < count; i++) {
                        short bits = seg.get(SHORT_LE, off + 2L * i);
                        assertEquals(Float.floatToRawIntBits(Float.float16ToFloat(bits)), Float.floatToRawIntBits(fast[2 + i]));
                    }
                    HalfConversion.bf16ToF32(seg, off, fast, 2, count);
                    HalfConversion.bf16ToF32Scalar(seg, off, ref, 2, count);
                    for (int i = 0; i < fast.length; i++) {
                        assertEquals(Float.floatToRawIntBits(ref[i]), Float.floatToRawIntBits(fast[i]));
                    }
                }
            }
        }
    }

    @Test
    void bulkWideningRejectsRangesOutsideTheSegmentOrArray() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(20);
            assertThrows(IndexOutOfBoundsException.class, () -> HalfConversion.f16ToF32(seg, 2, new float[10], 0, 10));
            assertThrows(IndexOutOfBoundsException.class, () -> HalfConversion.bf16ToF32(seg, 0, new float[9], 0, 10));
            assertThrows(IndexOutOfBoundsException.class, () -> HalfConversion.f16ToF32(seg, 0, new float[10], 0, -1));
        }
    }

    @Test
    void knownF16Values() {
        assertEquals(1.0f, HalfConversion.f16ToF32((short) 0x3c00));
        assertEquals(65504.0f, HalfConversion.f16ToF32((short) 0x7bff));
        assertEquals(0x1p-24f, HalfConversion.f16ToF32((short) 0x0001));
        assertEquals(0x1p-14f, HalfConversion.f16ToF32((short) 0x0400));
        assertEquals(Float.NEGATIVE_INFINITY, HalfConversion.f16ToF32((short) 0xfc00));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(HalfConversion.f16ToF32((short) 0x8000)));
        assertTrue(Float.isNaN(HalfConversion.f16ToF32((short) 0x7e00)));
    }

    @Test
    void narrowingToF16RoundTripsEveryNonNanPatternAndRoundsTiesToEven() {
        for (int b = 0; b < 65536; b++) {
            float f = HalfConversion.f16ToF32((short) b);
            if (!Float.isNaN(f)) {
                assertEquals((short) b, HalfConversion.f32ToF16(f), "pattern " + Integer.toHexString(b));
            } else {
                assertTrue(Float.isNaN(HalfConversion.f16ToF32(HalfConversion.f32ToF16(f))));
            }
        }
        // 1 + 2^-11 lies halfway between 1 (even mantissa) and 1 + 2^-10: ties go to 1.
        assertEquals((short) 0x3c00, HalfConversion.f32ToF16(1 + 0x1p-11f));
        // 1 + 3 * 2^-11 lies halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
        assertEquals((short) 0x3c02, HalfConversion.f32ToF16(1 + 3 * 0x1p-11f));
        assertEquals((short) 0x7c00, HalfConversion.f32ToF16(65520f));
        assertEquals((short) 0x7bff, HalfConversion.f32ToF16(65519.99f));
    }

    @Test
    void narrowingToBf16RoundTripsEveryNonNanPattern() {
        for (int b = 0; b < 65536; b++) {
            float f = HalfConversion.bf16ToF32((short) b);
            short back = HalfConversion.f32ToBf16(f);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(HalfConversion.bf16ToF32(back)), "pattern " + Integer.toHexString(b));
                assertEquals(b & 0x8000, back & 0x8000, "sign of NaN " + Integer.toHexString(b));
            } else {
                assertEquals((short) b, back, "pattern " + Integer.toHexString(b));
            }
        }
    }

    @Test
    void narrowingToBf16PicksTheNearestNeighbourWithTiesToEven() {
        Random rnd = new Random(1234);
        for (int n = 0; n < 1_000_000; n++) {
            int bits = n < 1000 ? (rnd.nextInt() & 0xffff0000) | 0x8000 : rnd.nextInt(); // first exact ties
            float f = Float.intBitsToFloat(bits);
            if (Float.isNaN(f)) {
                continue;
            }
            int got = HalfConversion.f32ToBf16(f) & 0xffff;
            int down = bits >>> 16;             // truncation toward zero in magnitude
            int up = down + 1;                  // next magnitude up (may be inf)
            double fd = f;
            double errDown = Math.abs(fd - HalfConversion.bf16ToF32((short) down));
            double upValue = (up & 0x7fff) == 0x7f80 ? Math.copySign(0x1p128, fd) : HalfConversion.bf16ToF32((short) up);
            double errUp = Math.abs(fd - upValue);
            int want = errDown == 0 || errDown < errUp ? down : errUp < errDown ? up : ((down & 1) == 0 ? down : up);
            assertEquals(want & 0xffff, got, "float bits " + Integer.toHexString(bits));
        }
        assertEquals((short) 0x3f80, HalfConversion.f32ToBf16(Float.intBitsToFloat(0x3f808000)));
        assertEquals((short) 0x3f82, HalfConversion.f32ToBf16(Float.intBitsToFloat(0x3f818000)));
        assertEquals((short) 0x7f80, HalfConversion.f32ToBf16(Float.MAX_VALUE));
        assertEquals((short) 0xff80, HalfConversion.f32ToBf16(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x0000, HalfConversion.f32ToBf16(Float.MIN_VALUE));
    }
}
