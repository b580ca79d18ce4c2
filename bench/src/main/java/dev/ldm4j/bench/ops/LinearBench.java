// JMH: CPU linear (SGEMM through packed panels) at Stable Diffusion shapes, x [M, K] times w [N, K]^T.
// shape = MxNxK; FLOP per operation = 2 M N K. Variants: F32 weights, F16 weights (widened while
// packing, as from a float16 checkpoint), and F32 with the fused bias + GELU epilogue.
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.LinearBench'
package dev.ldm4j.bench.ops;

import dev.ldm4j.tensor.Activation;
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
public class LinearBench {
    @Param({"4096x320x320", "4096x320x1280", "4096x2560x320", "8192x640x640", "8192x1280x5120"})
    public String shape;

    Backend cpu;
    Tensor x, w, w16, bias;

    @Setup
    public void setup() {
        int[] d = OpsData.dims(shape);
        cpu = OpsData.backend();
        x = OpsData.rand(1, 1f, d[0], d[2]);
        w = OpsData.rand(2, 0.05f, d[1], d[2]);
        w16 = OpsData.f16(w);
        bias = OpsData.rand(3, 0.1f, d[1]);
    }

    @Benchmark
    public Tensor f32(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = cpu.linear(x, w, null, Activation.NONE);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }

    @Benchmark
    public Tensor f16Weights(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = cpu.linear(x, w16, null, Activation.NONE);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }

    @Benchmark
    public Tensor biasGelu(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = cpu.linear(x, w, bias, Activation.GELU);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }
}
