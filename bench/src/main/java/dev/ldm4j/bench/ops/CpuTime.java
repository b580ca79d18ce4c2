// A JMH auxiliary counter of CPU time: the summed CPU time of all live Java threads (the op's own
// thread and the backend's pool) spent inside the benchmarked calls. On a shared, loaded machine the
// wall-clock score undercounts what the code does per core; work / (CPU time / cores) is the rate an
// otherwise idle machine would approach (JVM-internal threads such as GC are not included). JMH
// reports cpuNanos and calls per iteration as secondary results; bench/MakeResults.java uses them.
package dev.ldm4j.bench.ops;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.EVENTS)
public class CpuTime {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** CPU nanoseconds spent in the measured calls during this iteration. */
    public long cpuNanos;
    /** Measured calls during this iteration. */
    public long calls;

    @Setup(Level.Iteration)
    public void reset() {
        cpuNanos = 0;
        calls = 0;
    }

    /** Summed CPU time of every live Java thread, in nanoseconds. */
    static long allThreads() {
        long sum = 0;
        for (long id : THREADS.getAllThreadIds()) {
            long t = THREADS.getThreadCpuTime(id);
            if (t > 0) {
                sum += t;
            }
        }
        return sum;
    }

    /** CPU time of the calling thread alone (for benchmarks that run on several JMH threads). */
    static long thisThread() {
        return THREADS.getCurrentThreadCpuTime();
    }

    void add(long nanos) {
        cpuNanos += nanos;
        calls++;
    }
}
