// JMH: CPU group norm backward (32 groups), with and without the SiLU that every ResnetBlock2D fuses.
// shape = NxCxHxW; bytes per operation = 3 * 4 * N C H W (one read of x, one of dy, one write of dx:
// the least any implementation moves; this one reads x and dy twice, the second time from cache when
// a group fits), compared with Ceilings.copy. The cases are SD's 64x64 latent at 320 channels and a
// small model's 32x32 at 64.
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.GroupNormBackwardBench'
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
public class GroupNormBackwardBench {
    @Param({"2x320x64x64", "8x64x32x32"})
    public String shape;

    Backend cpu;
    Tensor x, dy, gamma, beta;

    @Setup
    public void setup() {
        int[] d = OpsData.dims(shape);
        cpu = OpsData.backend();
        x = OpsData.rand(1, 2f, d);
        dy = OpsData.rand(4, 1f, d);
        gamma = OpsData.rand(2, 1f, d[1]);
        beta = OpsData.rand(3, 1f, d[1]);
    }

    @Benchmark
    public Tensor[] groupNormSiluBackward(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor[] result = cpu.groupNormBackward(x, 32, gamma, beta, 1e-5f, true, dy);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }

    @Benchmark
    public Tensor[] groupNormBackward(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor[] result = cpu.groupNormBackward(x, 32, gamma, beta, 1e-5f, false, dy);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }
}
