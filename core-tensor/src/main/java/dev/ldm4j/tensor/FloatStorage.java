// Host F32 storage on the Java heap: the storage every CPU op computes into.
package dev.ldm4j.tensor;

public record FloatStorage(float[] data) implements Storage {
    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public DType dtype() {
        return DType.F32;
    }

    @Override
    public long size() {
        return data.length;
    }

    @Override
    public float getFloat(long i) {
        return data[Math.toIntExact(i)];
    }
}
