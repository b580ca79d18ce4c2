// JMH: CPU conv2d as implicit GEMM. shape = NxCxHxW_OxK (batch, in channels, height, width, out
// channels, square kernel), stride 1, padding K/2; FLOP per operation = 2 N O H W C K K. The SD 1.5
// U-Net's convs at 512 px, and the training shapes of the built-in shapes model's U-Net (batch 16 of
// 16x16 latents: 64 channels at 16x16, 128 at 8x8 and 4x4), the U-Net's 3x3 convs at 256 px, and the VAE decoder's
// 3x3 convs at 512 px (one image, 64 to 512 px per side). conv2d is what CpuBackend runs (Winograd F(4x4, 3x3) where
// Winograd.applies, direct otherwise); conv2dDirect the same call in a JVM with -Dldm4j.winograd=false, so the two
// rows of a shape compare the algorithms. The FLOP count is direct convolution's in both (an "effective" rate).
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.ConvBench'
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
public class ConvBench {
    @Param({"2x320x64x64_320x3", "2x640x32x32_640x3", "2x1280x16x16_1280x3", "2x1280x8x8_1280x3", "2x320x64x64_320x1",
            "2x320x32x32_320x3", "2x640x16x16_640x3",
            "1x512x64x64_512x3", "1x512x128x128_512x3", "1x256x256x256_256x3", "1x128x512x512_128x3",
            "16x64x16x16_64x3", "16x128x8x8_128x3", "16x128x4x4_128x3"})
    public String shape;

    Backend cpu;
    Tensor x, w, bias;
    int pad;

    @Setup
    public void setup() {
        String[] p = shape.split("_");
        int[] in = OpsData.dims(p[0]);
        int[] out = OpsData.dims(p[1]);
        cpu = OpsData.backend();
        x = OpsData.rand(1, 1f, in);
        w = OpsData.rand(2, 0.05f, out[0], in[1], out[1], out[1]);
        bias = OpsData.rand(3, 0.1f, out[0]);
        pad = out[1] / 2;
    }

    @Benchmark
    public Tensor conv2d(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = cpu.conv2d(x, w, bias, 1, pad);
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }

    @Benchmark
    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx8g", "-Dldm4j.winograd=false"})
    public Tensor conv2dDirect(CpuTime clock) {
        return conv2d(clock);
    }
}
