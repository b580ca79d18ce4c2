// JMH: CPU layer norm backward over the last dimension. shape = RxD (rows x width); bytes per
// operation = 3 * 4 * R D (one read of x, one of dy, one write of dx: the least any implementation
// moves), compared with Ceilings.copy. The cases are SD's transformer blocks on a 64x64 latent
// (2 x 4096 tokens of 320), on a 16x16 one (2 x 256 tokens of 1280) and CLIP's text encoder
// (2 x 77 tokens of 768).
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.LayerNormBackwardBench'
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
public class LayerNormBackwardBench {
    @Param({"8192x320", "512x1280", "154x768"})
    public String shape;

    Backend cpu;
    Tensor x, dy, gamma;

    @Setup
    public void setup() {
        int[] d = OpsData.dims(shape);
        cpu = OpsData.backend();
        x = OpsData.rand(1, 2f, d);
        dy = OpsData.rand(4, 1f, d);
        gamma = OpsData.rand(2, 1f, d[1]);
    }

    @Benchmark
    public Tensor[] layerNormBackward(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor[] result = cpu.layerNormBackward(x, gamma, 1e-5f, dy);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }
}
