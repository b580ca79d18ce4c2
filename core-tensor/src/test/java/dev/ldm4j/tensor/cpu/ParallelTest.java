// Parallel's loops: every index exactly once, over many loops back to back and after the workers have idled; a
// failure in any piece reaches the caller and leaves the workers usable; loops started at once from several threads,
// each with loops inside its pieces, all complete with the right sums; a worker slot is never used by two pieces of
// one loop at the same time (the bodies keep per-slot scratch).
package dev.ldm4j.tensor.cpu;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class ParallelTest {
    @Test
    void everyIndexOnceOverManyLoops() throws InterruptedException {
        for (int loop = 0; loop < 5000; loop++) {
            int n = 1 + loop % 97;
            AtomicIntegerArray hits = new AtomicIntegerArray(n);
            Parallel.forRange(n, 1, (from, to, worker) -> {
                for (int i = from; i < to; i++) {
                    hits.incrementAndGet(i);
                }
            });
            for (int i = 0; i < n; i++) {
                assertEquals(1, hits.get(i), "loop " + loop + ", index " + i);
            }
            if (loop % 1000 == 999) {
                Thread.sleep(5);   // the workers wait idle, and must be woken
            }
        }
    }

    @Test
    void aFailureReachesTheCallerAndTheWorkersGoOn() {
        for (int failing = 0; failing < 8; failing++) {
            int bad = failing;
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Parallel.forEach(8, (i, worker) -> {
                if (i == bad) {
                    throw new IllegalStateException("piece " + bad);
                }
            }));
            assertEquals("piece " + bad, e.getMessage());
        }
        AtomicInteger sum = new AtomicInteger();
        Parallel.forEach(100, (i, worker) -> sum.addAndGet(i));
        assertEquals(4950, sum.get());
    }

    @Test
    void loopsFromSeveralThreadsAndNestedLoopsComplete() throws InterruptedException {
        int threads = 4;
        CountDownLatch start = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                try {
                    start.await();
                    for (int loop = 0; loop < 300; loop++) {
                        AtomicInteger sum = new AtomicInteger();
                        Parallel.forEach(40, (i, worker) -> Parallel.forEach(5, (j, w2) -> sum.addAndGet(i * 5 + j)));
                        assertEquals(199 * 200 / 2, sum.get());
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            th.start();
            started.add(th);
        }
        start.countDown();
        for (Thread th : started) {
            th.join();
        }
        assertNull(failure.get());
    }

    @Test
    void aSlotIsNeverUsedTwiceAtOnceWithinALoop() {
        AtomicIntegerArray busy = new AtomicIntegerArray(Parallel.THREADS);
        AtomicInteger clashes = new AtomicInteger();
        for (int loop = 0; loop < 500; loop++) {
            Parallel.forEach(64, (i, worker) -> {
                assertTrue(worker >= 0 && worker < Parallel.THREADS, "slot " + worker);
                if (busy.incrementAndGet(worker) != 1) {
                    clashes.incrementAndGet();
                }
                Thread.onSpinWait();
                busy.decrementAndGet(worker);
            });
        }
        assertEquals(0, clashes.get());
    }
}
