// JMH: CPU flash-style attention backward (dq, dk, dv from q, k, v, the forward's output and dOut).
// shape = BxLqxLkxHxD in the token-major layout [B, L, H*D]; FLOP per operation = 10 B H Lq Lk D, as
// ForwardingBackend counts it (the two forward products recomputed, dV, dP, dQ and dK: five products
// of 2 Lq Lk D each; the log-sum-exp pass, a sixth q k^T, and the exponentials are not counted, so
// the rate is a lower bound on the arithmetic done). The cases are SD 1.x's self-attention at 64x64
// and 32x32 latents, its cross-attention to 77 text tokens, and a small model (8 x 256 tokens, 4
// heads of 32) as a test-size training run would use, and the built-in shapes model's U-Net at batch 16
// (self-attention over 8x8 latents, 64 tokens, and cross-attention to 77 text tokens; 4 heads of 32).
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.AttentionBackwardBench'
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
public class AttentionBackwardBench {
    @Param({"2x4096x4096x8x40", "2x1024x1024x8x80", "2x4096x77x8x40", "8x256x256x4x32", "16x64x64x4x32", "16x64x77x4x32"})
    public String shape;

    Backend cpu;
    Tensor q, k, v, out, dOut;
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
        dOut = OpsData.rand(4, 1f, d[0], d[1], d[3] * d[4]);
        scale = (float) (1 / Math.sqrt(d[4]));
        out = cpu.attention(q, k, v, heads, scale, false);
    }

    @Benchmark
    public Tensor[] attentionBackward(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor[] result = cpu.attentionBackward(q, k, v, out, dOut, heads, scale, false);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }
}
