// The CPU backend's fixed team of threads and a parallel-for over index ranges. The calling thread works too, so
// availableProcessors() - 1 daemon helpers keep every core busy. A model runs thousands of loops a second, many of
// them tens of microseconds long, so a helper does not sleep between loops: after finishing one it spins (reading
// one volatile field) for up to SPIN_NANOS waiting for the next, and only then parks. Waking a parked thread costs
// the operating system tens of microseconds, which a short loop would spend with one core idle.
// One loop runs on the team at a time: a loop started while another is running (from another thread, or from inside
// a piece of a running loop) runs serially on its own thread, so there is no nested parallelism and no deadlock.
package dev.ldm4j.tensor.cpu;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

final class Parallel {
    /** Worker count including the calling thread. */
    static final int THREADS = Math.max(1, Runtime.getRuntime().availableProcessors());
    /** How long an idle helper spins for the next loop before it parks (-Dldm4j.spinMicros, default 200). */
    static final long SPIN_NANOS = 1000L * Long.getLong("ldm4j.spinMicros", 200);

    private static final ThreadGroup GROUP = new ThreadGroup("ldm4j-cpu");
    /** Bit set in Loop.joined when the caller has closed the loop: helpers arriving later leave it alone. */
    private static final int CLOSED = 1 << 30;

    /** One loop handed to the team: its pieces, the next unclaimed piece, and who joined and finished. */
    private static final class Loop {
        final int n, step, count;
        final RangeBody body;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger joined = new AtomicInteger();
        final AtomicInteger finished = new AtomicInteger();
        volatile Throwable failure;

        Loop(int n, int step, int count, RangeBody body) {
            this.n = n;
            this.step = step;
            this.count = count;
            this.body = body;
        }

        /** Runs pieces until none is left; a failure stops the others from claiming more. */
        void drain(int worker) {
            try {
                for (int c; (c = next.getAndIncrement()) < count; ) {
                    int from = c * step;
                    body.run(from, Math.min(n, from + step), worker);
                }
            } catch (RuntimeException | Error e) {
                if (failure == null) {
                    failure = e;
                }
                next.set(count);
            }
        }
    }

    /** Posted while the team is idle, so that a finished loop (and what its body holds) is not kept reachable. */
    private static final Loop IDLE = new Loop(0, 1, 0, (from, to, worker) -> { });
    /** The loop last posted to the helpers (they run each one at most once, by identity). */
    private static volatile Loop posted = IDLE;
    /** Held by the thread whose loop the team is running. */
    private static final AtomicBoolean TEAM_BUSY = new AtomicBoolean();
    private static final Thread[] HELPERS = new Thread[THREADS - 1];
    private static final AtomicBoolean[] PARKED = new AtomicBoolean[THREADS - 1];

    static {
        for (int h = 0; h < HELPERS.length; h++) {
            int worker = h + 1;
            PARKED[h] = new AtomicBoolean();
            Thread t = new Thread(GROUP, () -> helperLoop(worker), "ldm4j-cpu-worker-" + worker);
            t.setDaemon(true);
            HELPERS[h] = t;
            t.start();
        }
    }

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
        if (HELPERS.length == 0 || pieces == 1 || Thread.currentThread().getThreadGroup() == GROUP
                || !TEAM_BUSY.compareAndSet(false, true)) {
            body.run(0, n, 0);
            return;
        }
        int step = (n + pieces - 1) / pieces;
        Loop loop = new Loop(n, step, (n + step - 1) / step, body);
        try {
            posted = loop;
            for (int h = 0; h < HELPERS.length; h++) {
                if (PARKED[h].get()) {
                    LockSupport.unpark(HELPERS[h]);
                }
            }
            loop.drain(0);
            int joined = loop.joined.getAndAdd(CLOSED);
            while (loop.finished.get() < joined) {
                Thread.onSpinWait();
            }
        } finally {
            posted = IDLE;
            TEAM_BUSY.set(false);
        }
        Throwable failure = loop.failure;
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error er) {
            throw er;
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

    /**
     * A helper's life: wait for a loop it has not seen (spinning, then parked), join it unless the caller has
     * already closed it, claim pieces until none is left, report that it finished.
     */
    private static void helperLoop(int worker) {
        AtomicBoolean parked = PARKED[worker - 1];
        Loop seen = null;
        while (true) {
            Loop loop = posted;
            if (loop == seen) {
                long spinUntil = System.nanoTime() + SPIN_NANOS;
                while ((loop = posted) == seen && System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                }
                while (loop == seen) {
                    parked.set(true);
                    if ((loop = posted) == seen) {
                        LockSupport.park(Parallel.class);
                        loop = posted;
                    }
                    parked.set(false);
                }
            }
            seen = loop;
            if (loop == IDLE || (loop.joined.getAndIncrement() & CLOSED) != 0) {
                continue;
            }
            loop.drain(worker);
            loop.finished.incrementAndGet();
        }
    }
}
