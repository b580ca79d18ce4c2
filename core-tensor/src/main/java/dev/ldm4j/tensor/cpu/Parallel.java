// The CPU backend's one fixed thread pool and a parallel-for over index ranges. The calling thread
// works too, so a pool of availableProcessors() - 1 daemon threads keeps every core busy. A loop
// started from inside a pool thread runs serially (no nested parallelism, no deadlock).
package dev.ldm4j.tensor.cpu;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

final class Parallel {
    /** Worker count including the calling thread. */
    static final int THREADS = Math.max(1, Runtime.getRuntime().availableProcessors());

    private static final ThreadGroup GROUP = new ThreadGroup("ldm4j-cpu");
    private static final ExecutorService POOL = THREADS == 1 ? null : Executors.newFixedThreadPool(THREADS - 1, r -> {
        Thread t = new Thread(GROUP, r, "ldm4j-cpu-worker");
        t.setDaemon(true);
        return t;
    });

    private Parallel() {
    }

    /** Body of a parallel loop: handles tasks [from, to) on the worker with the given slot (0..THREADS-1). */
    @FunctionalInterface
    interface RangeBody {
        void run(int from, int to, int worker);
    }

    /** Runs body over [0, n) in pieces of at least `grain` indices (at most 4 per thread), shared out dynamically. */
    static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int pieces = Math.min(Math.max(1, n / Math.max(1, grain)), THREADS * 4);
        if (POOL == null || pieces == 1 || Thread.currentThread().getThreadGroup() == GROUP) {
            body.run(0, n, 0);
            return;
        }
        int step = (n + pieces - 1) / pieces;
        int count = (n + step - 1) / step;
        AtomicInteger next = new AtomicInteger();
        int helpers = Math.min(THREADS - 1, count - 1);
        @SuppressWarnings("unchecked")
        Future<?>[] futures = new Future<?>[helpers];
        for (int h = 0; h < helpers; h++) {
            int worker = h + 1;
            futures[h] = POOL.submit(() -> drain(n, step, count, next, body, worker));
        }
        Throwable failure = null;
        try {
            drain(n, step, count, next, body, 0);
        } catch (RuntimeException | Error e) {
            failure = e;
            next.set(count);
        }
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (ExecutionException e) {
                if (failure == null) {
                    failure = e.getCause();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                if (failure == null) {
                    failure = e;
                }
            }
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error er) {
            throw er;
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
    }

    /** Runs body(i, worker) for each i in [0, n), in parallel chunks. */
    static void forEach(int n, IndexBody body) {
        forRange(n, 1, (from, to, worker) -> {
            for (int i = from; i < to; i++) {
                body.run(i, worker);
            }
        });
    }

    @FunctionalInterface
    interface IndexBody {
        void run(int i, int worker);
    }

    private static void drain(int n, int step, int count, AtomicInteger next, RangeBody body, int worker) {
        for (int c; (c = next.getAndIncrement()) < count; ) {
            int from = c * step;
            body.run(from, Math.min(n, from + step), worker);
        }
    }
}
