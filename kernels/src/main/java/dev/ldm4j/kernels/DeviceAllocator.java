// A caching allocator for device memory: sizes are rounded up to a bucket (a power of two or 1.5 times
// one, at least 512 bytes) and freed blocks wait on a per-bucket free list for the next request of that
// bucket, so steady-state inference calls cuMemAlloc only while its working set grows. Long-lived blocks
// (model weights and their twins) are asked for as exact: rounded to 512 bytes only, since the up to
// 33% of a bucket would be held for the model's whole life.
//
// Blocks come back when the CudaStorage that owned them is released (Backend.release, which TensorScope
// calls for a block's intermediates), or else when it becomes unreachable (a Cleaner), which may be on
// any thread; either way they are queued without a lock and moved to the free lists by the next
// allocation. Every kernel runs on the backend's one stream, so a block reused by a later op is written
// only after the earlier ops that read it have run.
//
// Java's collector does not see device memory: a tensor object is a few hundred bytes of heap however
// large its block, so dead tensors that nobody released could pile up on the device for a long time
// (model code releases its intermediates; what remains is small per-step work). So on a cache miss, once
// COLLECT_AFTER_ALLOCATIONS blocks or a sixteenth of the memory budget have been newly allocated from the
// device since the last collection (reused blocks do not count: they are not piling up), the allocator
// asks for a collection (System.gc()) and waits briefly for the Cleaner to return the blocks of dead
// tensors before it calls cuMemAlloc. Above the budget (90% of the memory free at start) it also frees
// cached blocks of other sizes; when the device is full it frees every cached block and tries once more.
//
// Recording (CUDA graphs, CudaBackend.record): a captured graph keeps the device addresses of every block
// its kernels touched, so those blocks must never serve anyone else while the graph lives. Between
// beginRecording and endRecording every allocation comes from a Pool of its own (its free lists, else
// cuMemAlloc), never from the shared cache; a pool block that comes back goes to its pool's free list
// (so the recorded work can still reuse it, in stream order) until the pool is closed, after which it is
// freed. Nothing is freed with cuMemFree while recording (a capture must not synchronize).
package dev.ldm4j.kernels;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;

import java.lang.ref.Cleaner;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.CudaException;

final class DeviceAllocator {
    /** Where blocks come from: cuMemAlloc and cuMemFree on the GPU (CUDA), a stand-in in the allocator's tests. */
    interface DeviceMemory {
        /** A new allocation of bytes bytes, or null when the device has no room for it. */
        CUdeviceptr allocate(long bytes);

        void free(CUdeviceptr p);
    }

    static final DeviceMemory CUDA = new DeviceMemory() {
        @Override
        public CUdeviceptr allocate(long bytes) {
            CUdeviceptr p = new CUdeviceptr();
            try {
                cuMemAlloc(p, bytes);
            } catch (CudaException e) {
                if (e.getMessage() != null && e.getMessage().contains(CUresult.stringFor(CUresult.CUDA_ERROR_OUT_OF_MEMORY))) {
                    return null;
                }
                throw e;
            }
            return p;
        }

        @Override
        public void free(CUdeviceptr p) {
            cuMemFree(p);
        }
    };

    /** A device allocation of bucketBytes bytes; pool is null for the shared cache. */
    record Block(CUdeviceptr ptr, long bucketBytes, Pool pool) {
    }

    /** The blocks of one recording. */
    static final class Pool {
        private final Map<Long, ArrayDeque<Block>> free = new HashMap<>();
        private boolean closed;
    }

    private static final Cleaner CLEANER = Cleaner.create();
    private static final long MIB = 1L << 20;
    private static final int COLLECT_AFTER_ALLOCATIONS = 2048;
    private static final long RECORDING_COLLECT_BYTES = 256L << 20;

    private final Map<Long, ArrayDeque<Block>> free = new HashMap<>();
    private final ConcurrentLinkedQueue<Block> returned = new ConcurrentLinkedQueue<>();
    private final AtomicLong returnedCount = new AtomicLong();
    private final long softLimitBytes;
    private final DeviceMemory memory;
    private long liveBytes;
    private long cachedBytes;
    private long peakBytes;
    private long deviceAllocations;
    private long collections;
    private long allocationsSinceCollect;
    private long bytesSinceCollect;
    private Pool recording;
    private final ArrayDeque<Block> freeAfterRecording = new ArrayDeque<>();

    DeviceAllocator(long softLimitBytes, DeviceMemory memory) {
        this.softLimitBytes = softLimitBytes;
        this.memory = memory;
    }

    /** The size of an exact (long-lived) request: bytes rounded up to a multiple of 512. */
    static long exactSize(long bytes) {
        return (Math.max(bytes, 1) + 511) / 512 * 512;
    }

    /** The bucket a request of this many bytes is served from. */
    static long bucket(long bytes) {
        long b = Math.max(bytes, 512);
        long p = Long.highestOneBit(b);
        if (p == b) {
            return b;
        }
        long mid = p + (p >> 1);
        return b <= mid ? mid : p << 1;
    }

    /** A block, and the handle that gives it back: cleaned early by a release, else when its owner is unreachable. */
    record Allocation(Block block, Cleaner.Cleanable giveBack) {
    }

    /**
     * A block of at least bytes bytes (exact: rounded up to 512 bytes only, else to a bucket), which comes
     * back to this allocator once: when the allocation's giveBack is cleaned, or else when owner becomes
     * unreachable.
     */
    Allocation allocate(long bytes, Object owner, boolean exact) {
        Block b = take(exact ? exactSize(bytes) : bucket(bytes));
        return new Allocation(b, CLEANER.register(owner, () -> {
            returned.add(b);
            returnedCount.incrementAndGet();
        }));
    }

    private Block take(long size) {
        Pool pool;
        synchronized (this) {
            pool = recording;
        }
        if (pool != null) {
            return takeForRecording(pool, size);
        }
        Block b = fromCache(size);
        if (b != null) {
            return b;
        }
        boolean overBudget = liveBytes + cachedBytes + size > softLimitBytes;
        if (overBudget || allocationsSinceCollect >= COLLECT_AFTER_ALLOCATIONS || bytesSinceCollect >= softLimitBytes / 16) {
            collectGarbage();
            b = fromCache(size);
            if (b != null) {
                return b;
            }
            synchronized (this) {
                trimTo(softLimitBytes - size);
            }
        }
        b = tryDeviceAlloc(size, null);
        if (b == null) {
            collectGarbage();
            synchronized (this) {
                drainReturned();
                trimTo(0);
            }
            b = tryDeviceAlloc(size, null);
        }
        if (b == null) {
            throw new IllegalStateException("out of GPU memory: cannot allocate " + size / MIB + " MiB with "
                    + liveBytes / MIB + " MiB in use by live tensors");
        }
        return b;
    }

    /**
     * While recording: a block of the pool's, else a new one for it (no trimming: it would synchronize).
     * Collections come every RECORDING_COLLECT_BYTES here, far more often than in eager work: a recording
     * is made once, and its pool, held for the graph's life, is only as large as what was live plus what
     * had died uncollected at the worst moment.
     */
    private Block takeForRecording(Pool pool, long size) {
        Block b = fromPool(pool, size);
        if (b != null) {
            return b;
        }
        if (allocationsSinceCollect >= COLLECT_AFTER_ALLOCATIONS || bytesSinceCollect >= Math.min(softLimitBytes / 16, RECORDING_COLLECT_BYTES)) {
            collectGarbage();
            b = fromPool(pool, size);
            if (b != null) {
                return b;
            }
        }
        b = tryDeviceAlloc(size, pool);
        if (b == null) {
            throw new IllegalStateException("out of GPU memory while recording a CUDA graph: cannot allocate " + size / MIB + " MiB with "
                    + liveBytes / MIB + " MiB in use");
        }
        return b;
    }

    /** Starts a recording: allocations until endRecording belong to the returned pool. */
    synchronized Pool beginRecording() {
        if (recording != null) {
            throw new IllegalStateException("a CUDA graph is already being recorded");
        }
        drainReturned();
        recording = new Pool();
        return recording;
    }

    synchronized void endRecording() {
        recording = null;
        while (!freeAfterRecording.isEmpty()) {
            release(freeAfterRecording.pop());
        }
    }

    /** Frees the pool's cached blocks now and its live ones when they come back (its graph is gone). */
    synchronized void closePool(Pool pool) {
        drainReturned();
        pool.closed = true;
        for (ArrayDeque<Block> q : pool.free.values()) {
            while (!q.isEmpty()) {
                Block b = q.pop();
                cachedBytes -= b.bucketBytes();
                liveBytes += b.bucketBytes();
                release(b);
            }
        }
    }

    /** cuMemFree of a live block (deferred while recording). */
    private void release(Block b) {
        if (recording != null) {
            freeAfterRecording.push(b);
            return;
        }
        memory.free(b.ptr());
        liveBytes -= b.bucketBytes();
    }

    /** A free block of the recording's pool of exactly this bucket, or null. */
    private synchronized Block fromPool(Pool pool, long size) {
        drainReturned();
        ArrayDeque<Block> q = pool.free.get(size);
        if (q == null || q.isEmpty()) {
            return null;
        }
        cachedBytes -= size;
        liveBytes += size;
        return q.pop();
    }

    /** A cached block of exactly this bucket, or null. */
    private synchronized Block fromCache(long size) {
        drainReturned();
        ArrayDeque<Block> q = free.get(size);
        if (q == null || q.isEmpty()) {
            return null;
        }
        Block b = q.pop();
        cachedBytes -= size;
        liveBytes += size;
        return b;
    }

    private Block tryDeviceAlloc(long size, Pool pool) {
        CUdeviceptr p = memory.allocate(size);
        if (p == null) {
            return null;
        }
        synchronized (this) {
            liveBytes += size;
            peakBytes = Math.max(peakBytes, liveBytes + cachedBytes);
            deviceAllocations++;
            allocationsSinceCollect++;
            bytesSinceCollect += size;
        }
        return new Block(p, size, pool);
    }

    /** Runs the collector and waits briefly for the Cleaner to hand back blocks of unreachable tensors. */
    private void collectGarbage() {
        long before = returnedCount.get();
        System.gc();
        for (int i = 0; i < 20 && returnedCount.get() == before; i++) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        synchronized (this) {
            collections++;
            allocationsSinceCollect = 0;
            bytesSinceCollect = 0;
        }
    }

    private void drainReturned() {
        Block b;
        while ((b = returned.poll()) != null) {
            if (b.pool() != null && b.pool().closed) {
                release(b);
                continue;
            }
            (b.pool() != null ? b.pool().free : free).computeIfAbsent(b.bucketBytes(), k -> new ArrayDeque<>()).push(b);
            liveBytes -= b.bucketBytes();
            cachedBytes += b.bucketBytes();
        }
    }

    /** Frees cached blocks, largest buckets first, until live + cached bytes are at most target. */
    private void trimTo(long target) {
        if (liveBytes + cachedBytes <= target) {
            return;
        }
        var sizes = new java.util.ArrayList<>(free.keySet());
        sizes.sort(java.util.Comparator.reverseOrder());
        for (long size : sizes) {
            ArrayDeque<Block> q = free.get(size);
            while (!q.isEmpty() && liveBytes + cachedBytes > target) {
                memory.free(q.pop().ptr());
                cachedBytes -= size;
            }
        }
    }

    /** Collects dead tensors' blocks, then frees every cached block (not while recording). */
    void collectAndTrim() {
        collectGarbage();
        trim();
    }

    /** Frees every cached block (live blocks stay with their tensors). */
    synchronized void trim() {
        drainReturned();
        trimTo(0);
    }

    synchronized void resetPeak() {
        drainReturned();
        peakBytes = liveBytes + cachedBytes;
    }

    synchronized long peakBytes() {
        return peakBytes;
    }

    /** Bytes in blocks handed out and not yet back (after taking in those given back). */
    synchronized long liveBytes() {
        drainReturned();
        return liveBytes;
    }

    /** Bytes in free blocks kept for reuse. */
    synchronized long cachedBytes() {
        drainReturned();
        return cachedBytes;
    }

    /** Number of collections asked for so far. */
    synchronized long collections() {
        return collections;
    }

    /** Number of cuMemAlloc calls so far. */
    synchronized long deviceAllocations() {
        return deviceAllocations;
    }

    synchronized String stats() {
        drainReturned();
        return String.format("device memory: %d MiB live, %d MiB cached, %d MiB peak, %d cuMemAlloc calls, %d collections",
                liveBytes / MIB, cachedBytes / MIB, peakBytes / MIB, deviceAllocations, collections);
    }
}
