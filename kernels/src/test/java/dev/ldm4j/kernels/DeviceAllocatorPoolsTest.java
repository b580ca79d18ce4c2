// The caching allocator's bookkeeping over a stand-in device memory (no GPU needed): released blocks
// serve the next request of their bucket, a recording's blocks never reach anyone else while it lives,
// the budget trims the cache, and a full device frees every cached block before giving up.
package dev.ldm4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.Test;

class DeviceAllocatorPoolsTest {
    /** Device memory of a fixed capacity that remembers which of its allocations are live. */
    static final class FakeMemory implements DeviceAllocator.DeviceMemory {
        final long capacity;
        final Set<CUdeviceptr> live = Collections.newSetFromMap(new IdentityHashMap<>());
        final IdentityHashMap<CUdeviceptr, Long> sizes = new IdentityHashMap<>();
        long used;
        int frees;

        FakeMemory(long capacity) {
            this.capacity = capacity;
        }

        @Override
        public CUdeviceptr allocate(long bytes) {
            if (used + bytes > capacity) {
                return null;
            }
            CUdeviceptr p = new CUdeviceptr();
            live.add(p);
            sizes.put(p, bytes);
            used += bytes;
            return p;
        }

        @Override
        public void free(CUdeviceptr p) {
            assertTrue(live.remove(p), "freed a pointer that is not live (double free)");
            used -= sizes.remove(p);
            frees++;
        }
    }

    private static final long MIB = 1 << 20;

    /** Owners stay reachable for the whole test (they are locals held in arrays), so only releases give blocks back. */
    private static DeviceAllocator.Allocation take(DeviceAllocator a, long bytes, Object[] owners, int i) {
        owners[i] = new Object();
        return a.allocate(bytes, owners[i], false);
    }

    @Test
    void aReleasedBlockServesTheNextRequestOfItsBucketOnce() {
        FakeMemory mem = new FakeMemory(1L << 40);
        DeviceAllocator a = new DeviceAllocator(1L << 40, mem);
        Object[] owners = new Object[4];
        var first = take(a, 3 * MIB, owners, 0);
        first.giveBack().clean();
        first.giveBack().clean();
        var second = take(a, 3 * MIB - 100, owners, 1);
        assertSame(first.block(), second.block(), "same bucket: the released block comes back");
        var third = take(a, 3 * MIB, owners, 2);
        assertNotSame(second.block(), third.block(), "a block released twice is handed out once");
        var other = take(a, 5 * MIB, owners, 3);
        assertNotSame(first.block(), other.block());
        assertEquals(3, a.deviceAllocations());
        assertEquals(3 * MIB + 3 * MIB + 6 * MIB, a.liveBytes(), "buckets: 3 MiB, 3 MiB, and 6 MiB for 5");
        assertEquals(0, a.cachedBytes());
    }

    @Test
    void aRecordingsBlocksAreItsOwnUntilItsPoolCloses() {
        FakeMemory mem = new FakeMemory(1L << 40);
        DeviceAllocator a = new DeviceAllocator(1L << 40, mem);
        Object[] owners = new Object[8];
        var cachedBefore = take(a, MIB, owners, 0);
        cachedBefore.giveBack().clean();

        DeviceAllocator.Pool pool = a.beginRecording();
        var inGraph = take(a, MIB, owners, 1);
        assertNotSame(cachedBefore.block(), inGraph.block(), "a recording never takes from the shared cache");
        inGraph.giveBack().clean();
        var reused = take(a, MIB, owners, 2);
        assertSame(inGraph.block(), reused.block(), "within the recording a released block is reused (stream order)");
        a.endRecording();

        var eager = take(a, MIB, owners, 3);
        assertSame(cachedBefore.block(), eager.block(), "eager work gets the shared cache back");
        reused.giveBack().clean();
        var eager2 = take(a, MIB, owners, 4);
        assertNotSame(reused.block(), eager2.block(), "a live recording's block never serves eager work");

        int freesBefore = mem.frees;
        a.closePool(pool);
        assertEquals(freesBefore + 1, mem.frees, "closing the pool frees its cached block");
        assertTrue(!mem.live.contains(reused.block().ptr()));
    }

    @Test
    void aPoolBlockStillLiveWhenItsPoolClosesIsFreedWhenItComesBack() {
        FakeMemory mem = new FakeMemory(1L << 40);
        DeviceAllocator a = new DeviceAllocator(1L << 40, mem);
        Object[] owners = new Object[3];
        DeviceAllocator.Pool pool = a.beginRecording();
        var output = take(a, MIB, owners, 0);
        a.endRecording();
        a.closePool(pool);
        assertTrue(mem.live.contains(output.block().ptr()));
        output.giveBack().clean();
        take(a, 2 * MIB, owners, 1);
        assertTrue(!mem.live.contains(output.block().ptr()), "freed, not cached");
        assertEquals(0, a.cachedBytes());
    }

    @Test
    void nothingIsFreedWhileRecordingButAfterwards() {
        FakeMemory mem = new FakeMemory(1L << 40);
        DeviceAllocator a = new DeviceAllocator(1L << 40, mem);
        Object[] owners = new Object[2];
        DeviceAllocator.Pool first = a.beginRecording();
        take(a, MIB, owners, 0).giveBack().clean();
        a.endRecording();
        int frees = mem.frees;
        DeviceAllocator.Pool second = a.beginRecording();
        a.closePool(first);
        assertEquals(frees, mem.frees, "a capture must not synchronize: the free waits");
        a.endRecording();
        assertEquals(frees + 1, mem.frees);
        a.closePool(second);
    }

    @Test
    void overTheBudgetOtherCachedSizesAreTrimmed() {
        FakeMemory mem = new FakeMemory(1L << 40);
        DeviceAllocator a = new DeviceAllocator(10 * MIB, mem);
        Object[] owners = new Object[3];
        take(a, 8 * MIB, owners, 0).giveBack().clean();
        assertEquals(8 * MIB, a.cachedBytes());
        var other = take(a, 4 * MIB, owners, 1);
        assertEquals(0, a.cachedBytes(), "the 8 MiB cached block went so that 4 MiB fits the 10 MiB budget");
        assertEquals(4 * MIB, mem.used);
        assertEquals(4 * MIB, other.block().bucketBytes());
    }

    @Test
    void aFullDeviceFreesTheCacheThenSaysWhatItCouldNotAllocate() {
        FakeMemory mem = new FakeMemory(16 * MIB);
        DeviceAllocator a = new DeviceAllocator(1L << 40, mem);
        Object[] owners = new Object[4];
        take(a, 8 * MIB, owners, 0).giveBack().clean();
        take(a, 4 * MIB, owners, 1);
        var big = take(a, 12 * MIB, owners, 2);
        assertEquals(16 * MIB, mem.used, "the cached 8 MiB was freed to make room for 12");
        assertEquals(12 * MIB, big.block().bucketBytes());
        var e = assertThrows(IllegalStateException.class, () -> take(a, 2 * MIB, owners, 3));
        assertTrue(e.getMessage().contains("out of GPU memory") && e.getMessage().contains("16 MiB in use"), e.getMessage());
    }

    @Test
    void peakCountsLiveAndCachedBytesSinceTheLastReset() {
        FakeMemory mem = new FakeMemory(1L << 40);
        DeviceAllocator a = new DeviceAllocator(1L << 40, mem);
        Object[] owners = new Object[3];
        var x = take(a, MIB, owners, 0);
        var y = take(a, 2 * MIB, owners, 1);
        x.giveBack().clean();
        y.giveBack().clean();
        a.trim();
        a.resetPeak();
        assertEquals(0, a.peakBytes());
        take(a, MIB, owners, 2);
        assertEquals(MIB, a.peakBytes());
    }

    @Test
    void reusingReleasedBlocksNeverAsksForACollection() {
        FakeMemory mem = new FakeMemory(1L << 40);
        DeviceAllocator a = new DeviceAllocator(1024 * MIB, mem);
        Object[] owners = new Object[2];
        for (int i = 0; i < 10_000; i++) {
            take(a, 8 * MIB, owners, 0).giveBack().clean();
        }
        take(a, 3 * MIB, owners, 1);
        assertEquals(2, a.deviceAllocations(), "one block served all 10,000 requests of its size");
        assertEquals(0, a.collections(), "80 GB handed out but all of it reused: the miss that followed had nothing to collect");
    }

    @Test
    void newDeviceMemoryPastASixteenthOfTheBudgetAsksForACollectionOnTheNextMiss() {
        FakeMemory mem = new FakeMemory(1L << 40);
        DeviceAllocator a = new DeviceAllocator(1024 * MIB, mem);
        Object[] owners = new Object[70];
        for (int i = 0; i < 64; i++) {
            take(a, MIB, owners, i);
        }
        assertEquals(0, a.collections(), "64 MiB new: a sixteenth, which the next miss sees");
        take(a, MIB, owners, 64);
        assertEquals(1, a.collections());
    }
}
