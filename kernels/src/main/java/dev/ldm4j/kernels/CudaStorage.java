// Device storage: a block of GPU memory from the caching allocator holding size elements of one dtype.
// F16/BF16 storages (weights kept in their file dtype) lazily get an F32 twin made on the device, so
// the F32 kernels can read them; the twin lives as long as the storage.
package dev.ldm4j.kernels;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Device;
import dev.ldm4j.tensor.Storage;
import jcuda.driver.CUdeviceptr;

public final class CudaStorage implements Storage {
    private final DeviceAllocator.Block block;
    private final DType dtype;
    private final long size;
    private CudaStorage f32Twin;

    CudaStorage(DeviceAllocator allocator, DType dtype, long size) {
        this.dtype = dtype;
        this.size = size;
        this.block = allocator.allocate(Math.max(1, size) * dtype.byteSize(), this);
    }

    @Override
    public Device device() {
        return Device.CUDA;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public float getFloat(long i) {
        throw new UnsupportedOperationException("a CUDA tensor cannot be read element by element; copy it with backend.toHost() first");
    }

    /** Device address of element i. */
    CUdeviceptr pointer(long element) {
        return block.ptr().withByteOffset(element * dtype.byteSize());
    }

    CudaStorage f32Twin() {
        return f32Twin;
    }

    void setF32Twin(CudaStorage twin) {
        this.f32Twin = twin;
    }

    long bytes() {
        return size * dtype.byteSize();
    }
}
