// Host storage over a (possibly memory-mapped, read-only) MemorySegment of little-endian elements.
// Weights stay in their file dtype (F16, BF16, F32) here; ops widen them as they read.
package dev.ldm4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

public record SegmentStorage(MemorySegment segment, DType dtype) implements Storage {
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble DOUBLE_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public SegmentStorage {
        if (segment.byteSize() % dtype.byteSize() != 0) {
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes is not a whole number of " + dtype);
        }
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public long size() {
        return segment.byteSize() / dtype.byteSize();
    }

    @Override
    public float getFloat(long i) {
        long at = i * dtype.byteSize();
        return switch (dtype) {
            case F32 -> segment.get(FLOAT_LE, at);
            case F16 -> Float.float16ToFloat(segment.get(SHORT_LE, at));
            case BF16 -> Float.intBitsToFloat((segment.get(SHORT_LE, at) & 0xffff) << 16);
            case F64 -> (float) segment.get(DOUBLE_LE, at);
            case I64 -> segment.get(LONG_LE, at);
            case I32 -> segment.get(INT_LE, at);
            case I16 -> segment.get(SHORT_LE, at);
            case I8 -> segment.get(ValueLayout.JAVA_BYTE, at);
            case U8, BOOL -> segment.get(ValueLayout.JAVA_BYTE, at) & 0xff;
        };
    }
}
