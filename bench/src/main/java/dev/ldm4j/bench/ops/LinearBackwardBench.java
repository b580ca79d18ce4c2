// JMH: the two products of a linear layer's backward on the CPU, as the autograd backend calls them for
// y = x w^T with x [M, K], w [N, K] and the output gradient g [M, N]: the input gradient dx = g w (matmul of
// [M, N] by [N, K]) and the weight gradient dw = g^T x (matmul of the transposed view g^T, [N, M], by x [M, K]).
// shape = MxNxK; FLOP per operation = 2 M N K. The shapes are the built-in shapes model's U-Net at batch 16:
// its transformer's projections at 8x8 latents (1024 tokens, 128 features), the feed-forward's GEGLU
// projection (128 -> 1024) and its output (512 -> 128), the 4x4 level (256 tokens), and the text
// encoder's (16 x 77 tokens, 64 features).
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.LinearBackwardBench'
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
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
public class LinearBackwardBench {
    @Param({"1024x128x128", "1024x1024x128", "1024x128x512", "256x128x128", "1232x64x64"})
    public String shape;

    Backend cpu;
    Tensor x, w, g;

    @Setup
    public void setup() {
        int[] d = OpsData.dims(shape);
        cpu = OpsData.backend();
        x = OpsData.rand(1, 1f, d[0], d[2]);
        w = OpsData.rand(2, 0.05f, d[1], d[2]);
        g = OpsData.rand(3, 1f, d[0], d[1]);
    }

    @Benchmark
    public Tensor inputGradient(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = cpu.matmul(g, w);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }

    @Benchmark
    public Tensor weightGradient(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = cpu.matmul(g.transpose(0, 1), x);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }
}
