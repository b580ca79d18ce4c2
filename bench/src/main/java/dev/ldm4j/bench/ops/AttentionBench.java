// JMH: CPU flash-style attention. shape = BxLqxLkxHxD (batch, query tokens, key tokens, heads, head
// size) in the token-major layout [B, L, H*D]; FLOP per operation = 4 B H Lq Lk D (q k^T and p v;
// the exponentials are not counted). The cases are the attention calls of SD 1.x at 512x512
// (self-attention at 64x64, 32x32 and 16x16 latents, cross-attention to 77 text tokens) and SD 2.x's
// head size 64.
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.AttentionBench'
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
public class AttentionBench {
    @Param({"2x4096x4096x8x40", "2x4096x77x8x40", "2x1024x1024x8x80", "2x256x256x8x160", "2x4096x4096x5x64"})
    public String shape;

    Backend cpu;
    Tensor q, k, v;
    int heads;
    float scale;

    @Setup
    public void setup() {
        int[] d = OpsData.dims(shape);
        cpu = OpsData.backend();
        heads = d[3];
        q = OpsData.rand(1, 1f, d[0], d[1], d[3] * d[4]);
        k = OpsData.rand(2, 1f, d[0], d[2], d[3] * d[4]);
        v = OpsData.rand(3, 1f, d[0], d[2], d[3] * d[4]);
        scale = (float) (1 / Math.sqrt(d[4]));
    }

    @Benchmark
    public Tensor attention(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = cpu.attention(q, k, v, heads, scale, false);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }
}
