// Device storage: a block of GPU memory from the caching allocator holding size elements of one dtype.
// A storage can get twins of another dtype made on the device, once: an F32 twin of F16/BF16 weights
// (kept in their file dtype) for the F32 kernels, and an F16/BF16 twin of weights for the tensor-core
// kernels of the FP16/BF16 modes. A twin lives as long as its storage.
// An activation's block goes back to the allocator when the storage is released (Backend.release) or
// becomes unreachable; a released storage refuses to hand out its address, so a use after release fails
// with a message instead of reading memory that a later op may have reused.
package dev.ldm4j.kernels;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Device;
import dev.ldm4j.tensor.Storage;
import java.lang.ref.Cleaner;
import java.util.EnumMap;
import jcuda.driver.CUdeviceptr;

public final class CudaStorage implements Storage {
    private final DeviceAllocator.Block block;
    private final Cleaner.Cleanable giveBack;
    private final boolean longLived;
    private final DType dtype;
    private final long size;
    private volatile boolean released;
    private final EnumMap<DType, CudaStorage> twins = new EnumMap<>(DType.class);

    CudaStorage(DeviceAllocator allocator, DType dtype, long size) {
        this(allocator, dtype, size, false);
    }

    /** longLived: a weight or a copy of one, held for the model's life (allocated to size, not to a bucket). */
    CudaStorage(DeviceAllocator allocator, DType dtype, long size, boolean longLived) {
        this.dtype = dtype;
        this.size = size;
        this.longLived = longLived;
        DeviceAllocator.Allocation a = allocator.allocate(Math.max(1, size) * dtype.byteSize(), this, longLived);
        this.block = a.block();
        this.giveBack = a.giveBack();
    }

    /** A weight or a copy of one, held for the model's life. */
    boolean longLived() {
        return longLived;
    }

    /** Gives the block (and any twin's) back to the allocator now (once); every later use of this storage throws. */
    void release() {
        released = true;
        giveBack.clean();
        CudaStorage[] made;
        synchronized (this) {
            made = twins.values().toArray(new CudaStorage[0]);
            twins.clear();
        }
        for (CudaStorage twin : made) {
            twin.release();
        }
    }

    /** Throws when this storage was released. */
    void checkLive() {
        if (released) {
            throw new IllegalStateException("a GPU tensor was used after Backend.release freed its memory");
        }
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
        checkLive();
        return block.ptr().withByteOffset(element * dtype.byteSize());
    }

    /** This storage's contents converted to dtype, if made before; null otherwise. */
    synchronized CudaStorage twin(DType dtype) {
        return twins.get(dtype);
    }

    synchronized void setTwin(DType dtype, CudaStorage twin) {
        twins.put(dtype, twin);
    }

    long bytes() {
        return size * dtype.byteSize();
    }
}
