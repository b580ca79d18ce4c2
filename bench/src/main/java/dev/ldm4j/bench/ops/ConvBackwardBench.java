// JMH: the CPU conv2d gradients (training), as implicit GEMMs like the forward in ConvBench.
// shape = NxCxHxW_OxK[xS] (batch, in channels, height, width, out channels, square kernel, stride, default 1),
// padding K/2; Ho = (H + 2 (K/2) - K) / S + 1, likewise Wo. FLOP per operation, for either gradient, is the
// forward's: 2 N O Ho Wo C K K. The SD 1.5 U-Net's convs at 512 px (64x64 latents), its stride-2 downsampler,
// and the training shapes of a small model (8 images of 32x32 and 16x16) and of the built-in shapes model's U-Net
// (batch 16 of 16x16 latents: 64 channels at 16x16, 128 at 8x8 and 4x4).
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.ConvBackwardBench'
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
public class ConvBackwardBench {
    @Param({"2x320x64x64_320x3", "2x640x32x32_640x3", "2x320x64x64_320x1", "2x320x64x64_320x3x2",
            "8x64x32x32_64x3", "8x128x16x16_128x3", "16x64x16x16_64x3", "16x128x8x8_128x3", "16x128x4x4_128x3"})
    public String shape;

    Backend cpu;
    Tensor x, w, dy;
    int k, stride, pad, h, wd;

    @Setup
    public void setup() {
        String[] p = shape.split("_");
        int[] in = OpsData.dims(p[0]);
        int[] out = OpsData.dims(p[1]);
        k = out[1];
        stride = out.length > 2 ? out[2] : 1;
        pad = k / 2;
        h = in[2];
        wd = in[3];
        int oh = (h + 2 * pad - k) / stride + 1, ow = (wd + 2 * pad - k) / stride + 1;
        cpu = OpsData.backend();
        x = OpsData.rand(1, 1f, in);
        w = OpsData.rand(2, 0.05f, out[0], in[1], k, k);
        dy = OpsData.rand(3, 1f, in[0], out[0], oh, ow);
    }

    @Benchmark
    public Tensor backwardInput(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = cpu.conv2dBackwardInput(dy, w, h, wd, stride, pad, pad, pad, pad);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }

    @Benchmark
    public Tensor backwardWeight(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = cpu.conv2dBackwardWeight(x, dy, k, k, stride, pad, pad, pad, pad);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }
}
