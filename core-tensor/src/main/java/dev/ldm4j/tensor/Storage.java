// The memory behind a tensor: a flat run of elements of one dtype on one device.
package dev.ldm4j.tensor;

public interface Storage {
    Device device();

    DType dtype();

    /** Number of elements (not bytes). */
    long size();

    /**
     * Reads element i as a float (host storages only). Device storages throw; copy them to the host
     * with their backend first.
     */
    float getFloat(long i);
}
