// JMH: CPU group norm (32 groups) with fused SiLU, as every ResnetBlock2D runs it. shape = NxCxHxW;
// bytes per operation = 2 * 4 * N C H W (one read of x, one write of the result: the least any
// implementation moves), compared with Ceilings.copy.
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.GroupNormBench'
package dev.ldm4j.bench.ops;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

@BenchmarkMode(Mode.Throughput)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx8g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public class GroupNormBench {
    @Param({"2x320x64x64"})
    public String shape;

    Backend cpu;
    Tensor x, gamma, beta;

    @Setup
    public void setup() {
        int[] d = OpsData.dims(shape);
        cpu = OpsData.backend();
        x = OpsData.rand(1, 2f, d);
        gamma = OpsData.rand(2, 1f, d[1]);
        beta = OpsData.rand(3, 1f, d[1]);
    }

    @Benchmark
    public Tensor groupNormSilu(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = cpu.groupNorm(x, 32, gamma, beta, 1e-5f, true);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }

    @Benchmark
    public Tensor groupNorm(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = cpu.groupNorm(x, 32, gamma, beta, 1e-5f, false);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }
}
