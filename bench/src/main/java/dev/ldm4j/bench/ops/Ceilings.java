// JMH: the two hardware ceilings the CPU op benchmarks are measured against, on all cores at once
// (one JMH thread per available processor):
//  - fmaPeak: a register-resident loop of 12 independent Vector API FMA chains (no memory traffic),
//    FLOP per operation = 2 * lanes * 12 * ITERATIONS;
//  - copy: System.arraycopy of a private 16 MiB float array per thread into a reused one (past the
//    L2 caches), bytes per operation = 2 * 4 * COPY_FLOATS (read + write);
//  - cloneCopy: the same copy into a newly allocated array (float[].clone()), the ceiling of any op
//    that returns a fresh result, as every Backend op does: the JVM zeroes and the OS maps the new
//    memory before it is written.
// Throughput mode sums operations over the threads; bench/MakeResults.java turns scores into
// GFLOP/s and GB/s.
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.Ceilings'
package dev.ldm4j.bench.ops;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

@BenchmarkMode(Mode.Throughput)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Threads(Threads.MAX)
public class Ceilings {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    public static final int ITERATIONS = 1 << 20;
    public static final int COPY_FLOATS = 4 << 20;

    @State(Scope.Thread)
    public static class Arrays {
        final float[] src = new float[COPY_FLOATS];
        final float[] dst = new float[COPY_FLOATS];
        final float[] seed = {1f, 0.999999f, 1e-7f};
    }

    /** 12 independent FMA chains, enough to cover FMA latency times throughput on current cores. */
    @Benchmark
    public float fmaPeak(Arrays s, CpuTime clock) {
        long t0 = CpuTime.thisThread();
        FloatVector m = FloatVector.broadcast(S, s.seed[1]);
        FloatVector c = FloatVector.broadcast(S, s.seed[2]);
        FloatVector a0 = FloatVector.broadcast(S, s.seed[0]), a1 = a0.add(c), a2 = a1.add(c), a3 = a2.add(c);
        FloatVector a4 = a3.add(c), a5 = a4.add(c), a6 = a5.add(c), a7 = a6.add(c);
        FloatVector a8 = a7.add(c), a9 = a8.add(c), a10 = a9.add(c), a11 = a10.add(c);
        for (int i = 0; i < ITERATIONS; i++) {
            a0 = a0.fma(m, c);
            a1 = a1.fma(m, c);
            a2 = a2.fma(m, c);
            a3 = a3.fma(m, c);
            a4 = a4.fma(m, c);
            a5 = a5.fma(m, c);
            a6 = a6.fma(m, c);
            a7 = a7.fma(m, c);
            a8 = a8.fma(m, c);
            a9 = a9.fma(m, c);
            a10 = a10.fma(m, c);
            a11 = a11.fma(m, c);
        }
        float result = a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
        clock.add(CpuTime.thisThread() - t0);
        return result;
    }

    @Benchmark
    public float[] copy(Arrays s, CpuTime clock) {
        long t0 = CpuTime.thisThread();
        System.arraycopy(s.src, 0, s.dst, 0, COPY_FLOATS);
        float[] result = s.dst;
        clock.add(CpuTime.thisThread() - t0);
        return result;
    }

    @Benchmark
    public float[] cloneCopy(Arrays s, CpuTime clock) {
        long t0 = CpuTime.thisThread();
        float[] result = s.src.clone();
        clock.add(CpuTime.thisThread() - t0);
        return result;
    }

    /** FLOP per fmaPeak operation. */
    public static long fmaFlops() {
        return 2L * S.length() * 12 * ITERATIONS;
    }

    /** Prints fmaFlops() for this JVM's vector width, so that scripts can turn a JMH score into GFLOP/s (bench/whole-run.sh). */
    public static void main(String[] args) {
        System.out.println(fmaFlops());
    }
}
