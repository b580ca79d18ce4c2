// JMH: every product and norm that SD 1.5 runs in a 512x512 and a 256x256 generate, one row per op and operand
// shapes, exactly as `./ldm4j generate --profile-shapes` names them (bench/sd15-shapes.sh lists them, with how
// often each runs per step and per image, in bench/sd15-shapes.tsv). MakeResults weights each row by those counts,
// so bench/SD15-SHAPES-RESULTS.md shows which shapes a step's time goes to, and how far each in-model time is from JMH's.
// Operands are seeded random, F16 where the checkpoint's weights are (a memory-mapped F16 file). Attention runs
// SD 1.5's 8 heads; group norms its 32 groups. FLOP per call as the profiler counts them (products only).
//
// Run: java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.Sd15ShapesBench'
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

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

@BenchmarkMode(Mode.Throughput)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx8g"})
@Warmup(iterations = 1, time = 1)
@Measurement(iterations = 2, time = 1)
@State(Scope.Benchmark)
public class Sd15ShapesBench {
    /** The products and norms of bench/sd15-shapes.tsv (its second column), each once. */
    @Param({
            "attention (self) [2, 4096, 320] [2, 4096, 320] [2, 4096, 320]",
            "linear+geglu [2, 256, 1280] [10240, 1280] f16 [10240] f16",
            "linear+geglu [2, 4096, 320] [2560, 320] f16 [2560] f16",
            "conv2d 3x3+add [1, 128, 512, 512] [128, 128, 3, 3] f16 [128] f16 [1, 128, 512, 512]",
            "conv2d 3x3+add [2, 640, 32, 32] [640, 640, 3, 3] f16 [640] f16 [2, 640, 32, 32]",
            "conv2d 3x3+add [2, 1280, 16, 16] [1280, 1280, 3, 3] f16 [1280] f16 [2, 1280, 16, 16]",
            "conv2d 3x3 [1, 512, 128, 128] [512, 512, 3, 3] f16 [512] f16",
            "linear+geglu [2, 1024, 640] [5120, 640] f16 [5120] f16",
            "conv2d 3x3 [1, 256, 512, 512] [256, 256, 3, 3] f16 [256] f16",
            "conv2d 3x3 [1, 512, 256, 256] [512, 512, 3, 3] f16 [512] f16",
            "conv2d 3x3+add [2, 320, 64, 64] [320, 320, 3, 3] f16 [320] f16 [2, 320, 64, 64]",
            "conv2d 3x3+add [2, 320, 64, 64] [320, 320, 3, 3] f16 [320] f16 [2, 320, 1, 1]",
            "conv2d 3x3+add [2, 2560, 16, 16] [1280, 2560, 3, 3] f16 [1280] f16 [2, 1280, 1, 1]",
            "conv2d 3x3+add [1, 256, 256, 256] [256, 256, 3, 3] f16 [256] f16 [1, 256, 256, 256]",
            "conv2d 3x3 [1, 128, 512, 512] [128, 128, 3, 3] f16 [128] f16",
            "conv2d 3x3+add [1, 512, 128, 128] [512, 512, 3, 3] f16 [512] f16 [1, 512, 128, 128]",
            "conv2d 3x3 [2, 1280, 32, 32] [1280, 1280, 3, 3] f16 [1280] f16",
            "conv2d 3x3+add [2, 1920, 32, 32] [640, 1920, 3, 3] f16 [640] f16 [2, 640, 1, 1]",
            "conv2d 3x3 [1, 256, 512, 512] [128, 256, 3, 3] f16 [128] f16",
            "conv2d 3x3 [1, 512, 256, 256] [256, 512, 3, 3] f16 [256] f16",
            "linear+add [2, 4096, 1280] [320, 1280] f16 [320] f16 [2, 4096, 320]",
            "linear [2, 256, 1280] [1280, 1280] f16",
            "attention (self) [2, 1024, 640] [2, 1024, 640] [2, 1024, 640]",
            "conv2d 3x3 [1, 256, 256, 256] [256, 256, 3, 3] f16 [256] f16",
            "linear+add [2, 256, 5120] [1280, 5120] f16 [1280] f16 [2, 256, 1280]",
            "conv2d 3x3+add [2, 640, 64, 64] [320, 640, 3, 3] f16 [320] f16 [2, 320, 1, 1]",
            "conv2d 3x3+add [2, 1280, 8, 8] [1280, 1280, 3, 3] f16 [1280] f16 [2, 1280, 8, 8]",
            "linear [2, 4096, 320] [320, 320] f16",
            "attention (self) [1, 4096, 512] [1, 4096, 512] [1, 4096, 512]",
            "conv2d 3x3+add [2, 2560, 8, 8] [1280, 2560, 3, 3] f16 [1280] f16 [2, 1280, 1, 1]",
            "conv2d 3x3+add [1, 512, 64, 64] [512, 512, 3, 3] f16 [512] f16 [1, 512, 64, 64]",
            "conv2d 3x3+add [2, 960, 64, 64] [320, 960, 3, 3] f16 [320] f16 [2, 320, 1, 1]",
            "conv2d 3x3 [1, 512, 64, 64] [512, 512, 3, 3] f16 [512] f16",
            "conv2d 3x3 [2, 640, 64, 64] [640, 640, 3, 3] f16 [640] f16",
            "linear+add [2, 1024, 2560] [640, 2560] f16 [640] f16 [2, 1024, 640]",
            "linear [2, 1024, 640] [640, 640] f16",
            "linear+add [2, 4096, 320] [320, 320] f16 [320] f16 [2, 4096, 320]",
            "conv2d 3x3+add [2, 1280, 32, 32] [640, 1280, 3, 3] f16 [640] f16 [2, 640, 1, 1]",
            "groupNorm+silu [1, 128, 512, 512] [128] f16 [128] f16",
            "conv2d 3x3+add [2, 960, 32, 32] [640, 960, 3, 3] f16 [640] f16 [2, 640, 1, 1]",
            "conv2d 3x3+add [2, 1920, 16, 16] [1280, 1920, 3, 3] f16 [1280] f16 [2, 1280, 1, 1]",
            "linear+add [2, 256, 1280] [1280, 1280] f16 [1280] f16 [2, 256, 1280]",
            "conv2d 3x3+add [2, 1280, 8, 8] [1280, 1280, 3, 3] f16 [1280] f16 [2, 1280, 1, 1]",
            "linear+add [2, 1024, 640] [640, 640] f16 [640] f16 [2, 1024, 640]",
            "conv2d 3x3 [1, 128, 512, 512] [3, 128, 3, 3] f16 [3] f16",
            "conv2d 3x3+add [2, 640, 32, 32] [640, 640, 3, 3] f16 [640] f16 [2, 640, 1, 1]",
            "conv2d 3x3 [2, 1280, 16, 16] [1280, 1280, 3, 3] f16 [1280] f16",
            "conv2d 1x1+add [2, 320, 64, 64] [320, 320, 1, 1] f16 [320] f16 [2, 320, 64, 64]",
            "conv2d 3x3+add [2, 1280, 16, 16] [1280, 1280, 3, 3] f16 [1280] f16 [2, 1280, 1, 1]",
            "attention (cross) [2, 4096, 320] [2, 77, 320] [2, 77, 320]",
            "groupNorm+silu [1, 256, 512, 512] [256] f16 [256] f16",
            "conv2d 1x1 [2, 320, 64, 64] [320, 320, 1, 1] f16 [320] f16",
            "conv2d 1x1 [1, 256, 512, 512] [128, 256, 1, 1] f16 [128] f16",
            "conv2d 1x1+add [2, 640, 32, 32] [640, 640, 1, 1] f16 [640] f16 [2, 640, 32, 32]",
            "layerNorm [2, 4096, 320] [320] f16 [320] f16",
            "linear [2, 77, 768] [3072, 768] f16 [3072] f16",
            "conv2d 3x3 [2, 320, 64, 64] [4, 320, 3, 3] f16 [4] f16",
            "conv2d 1x1+add [2, 1280, 16, 16] [1280, 1280, 1, 1] f16 [1280] f16 [2, 1280, 16, 16]",
            "conv2d 1x1 [1, 512, 256, 256] [256, 512, 1, 1] f16 [256] f16",
            "linear [2, 77, 3072] [768, 3072] f16 [768] f16",
            "conv2d 1x1 [2, 640, 32, 32] [640, 640, 1, 1] f16 [640] f16",
            "linear [2, 77, 768] [768, 768] f16 [768] f16",
            "conv2d 1x1 [2, 1280, 16, 16] [1280, 1280, 1, 1] f16 [1280] f16",
            "conv2d 1x1 [2, 640, 64, 64] [320, 640, 1, 1] f16 [320] f16",
            "conv2d 3x3+add [2, 320, 32, 32] [640, 320, 3, 3] f16 [640] f16 [2, 640, 1, 1]",
            "groupNorm+silu [1, 256, 256, 256] [256] f16 [256] f16",
            "conv2d 3x3+add [2, 640, 16, 16] [1280, 640, 3, 3] f16 [1280] f16 [2, 1280, 1, 1]",
            "groupNorm+silu [1, 512, 256, 256] [512] f16 [512] f16",
            "conv2d 1x1 [2, 2560, 16, 16] [1280, 2560, 1, 1] f16 [1280] f16",
            "conv2d 1x1 [2, 960, 64, 64] [320, 960, 1, 1] f16 [320] f16",
            "conv2d 3x3 s2 [2, 320, 64, 64] [320, 320, 3, 3] f16 [320] f16",
            "attention (cross) [2, 1024, 640] [2, 77, 640] [2, 77, 640]",
            "attention (self) [2, 256, 1280] [2, 256, 1280] [2, 256, 1280]",
            "conv2d 1x1 [2, 1920, 32, 32] [640, 1920, 1, 1] f16 [640] f16",
            "linear [1, 4096, 512] [512, 512] f16 [512] f16",
            "layerNorm [2, 1024, 640] [640] f16 [640] f16",
            "conv2d 3x3 s2 [2, 1280, 16, 16] [1280, 1280, 3, 3] f16 [1280] f16",
            "linear [2, 77, 768] [1280, 768] f16",
            "conv2d 3x3 s2 [2, 640, 32, 32] [640, 640, 3, 3] f16 [640] f16",
            "linear+geglu [2, 64, 1280] [10240, 1280] f16 [10240] f16",
            "groupNorm+silu [1, 512, 128, 128] [512] f16 [512] f16",
            "groupNorm+silu [2, 320, 64, 64] [320] f16 [320] f16",
            "linear [2, 1280] [1280, 1280] f16 [1280] f16",
            "conv2d 1x1 [2, 1280, 32, 32] [640, 1280, 1, 1] f16 [640] f16",
            "attention (cross) [2, 256, 1280] [2, 77, 1280] [2, 77, 1280]",
            "conv2d 1x1 [2, 2560, 8, 8] [1280, 2560, 1, 1] f16 [1280] f16",
            "layerNorm [2, 256, 1280] [1280] f16 [1280] f16",
            "conv2d 1x1 [2, 960, 32, 32] [640, 960, 1, 1] f16 [640] f16",
            "linear+add [2, 64, 5120] [1280, 5120] f16 [1280] f16 [2, 64, 1280]",
            "linear [2, 77, 768] [640, 768] f16",
            "conv2d 1x1 [2, 1920, 16, 16] [1280, 1920, 1, 1] f16 [1280] f16",
            "linear [2, 64, 1280] [1280, 1280] f16",
            "groupNorm [2, 320, 64, 64] [320] f16 [320] f16",
            "groupNorm+silu [1, 512, 64, 64] [512] f16 [512] f16",
            "attention (self) [2, 77, 768] [2, 77, 768] [2, 77, 768]",
            "conv2d 3x3 [2, 4, 64, 64] [320, 4, 3, 3] f16 [320] f16",
            "groupNorm+silu [2, 640, 64, 64] [640] f16 [640] f16",
            "linear+add [2, 64, 1280] [1280, 1280] f16 [1280] f16 [2, 64, 1280]",
            "linear [2, 77, 768] [320, 768] f16",
            "groupNorm+silu [2, 640, 32, 32] [640] f16 [640] f16",
            "groupNorm+silu [2, 960, 64, 64] [960] f16 [960] f16",
            "conv2d 1x1 [2, 320, 32, 32] [640, 320, 1, 1] f16 [640] f16",
            "groupNorm [2, 640, 32, 32] [640] f16 [640] f16",
            "conv2d 1x1 [2, 640, 16, 16] [1280, 640, 1, 1] f16 [1280] f16",
            "linear [2, 1280] [640, 1280] f16 [640] f16",
            "groupNorm+silu [2, 1280, 16, 16] [1280] f16 [1280] f16",
            "groupNorm+silu [2, 1280, 8, 8] [1280] f16 [1280] f16",
            "groupNorm+silu [2, 1920, 32, 32] [1920] f16 [1920] f16",
            "conv2d 1x1+add [2, 1280, 8, 8] [1280, 1280, 1, 1] f16 [1280] f16 [2, 1280, 8, 8]",
            "layerNorm [2, 77, 768] [768] f16 [768] f16",
            "conv2d 1x1 [2, 1280, 8, 8] [1280, 1280, 1, 1] f16 [1280] f16",
            "groupNorm [2, 1280, 16, 16] [1280] f16 [1280] f16",
            "groupNorm+silu [2, 1280, 32, 32] [1280] f16 [1280] f16",
            "linear [2, 1280] [320, 1280] f16 [320] f16",
            "groupNorm+silu [2, 2560, 16, 16] [2560] f16 [2560] f16",
            "groupNorm+silu [2, 960, 32, 32] [960] f16 [960] f16",
            "groupNorm+silu [2, 1920, 16, 16] [1920] f16 [1920] f16",
            "conv2d 3x3 [1, 4, 64, 64] [512, 4, 3, 3] f16 [512] f16",
            "groupNorm+silu [2, 320, 32, 32] [320] f16 [320] f16",
            "attention (cross) [2, 64, 1280] [2, 77, 1280] [2, 77, 1280]",
            "groupNorm+silu [2, 2560, 8, 8] [2560] f16 [2560] f16",
            "layerNorm [2, 64, 1280] [1280] f16 [1280] f16",
            "attention (self) [2, 64, 1280] [2, 64, 1280] [2, 64, 1280]",
            "groupNorm [1, 512, 64, 64] [512] f16 [512] f16",
            "linear [2, 320] [1280, 320] f16 [1280] f16",
            "groupNorm+silu [2, 640, 16, 16] [640] f16 [640] f16",
            "conv2d 1x1 [1, 4, 64, 64] [4, 4, 1, 1] f16 [4] f16",
            "groupNorm [2, 1280, 8, 8] [1280] f16 [1280] f16",
            "attention (self) [2, 1024, 320] [2, 1024, 320] [2, 1024, 320]",
            "linear+geglu [2, 1024, 320] [2560, 320] f16 [2560] f16",
            "conv2d 3x3+add [2, 1280, 4, 4] [1280, 1280, 3, 3] f16 [1280] f16 [2, 1280, 4, 4]",
            "conv2d 3x3+add [2, 320, 32, 32] [320, 320, 3, 3] f16 [320] f16 [2, 320, 32, 32]",
            "conv2d 3x3+add [2, 2560, 4, 4] [1280, 2560, 3, 3] f16 [1280] f16 [2, 1280, 1, 1]",
            "conv2d 3x3+add [2, 640, 16, 16] [640, 640, 3, 3] f16 [640] f16 [2, 640, 16, 16]",
            "conv2d 3x3+add [1, 128, 256, 256] [128, 128, 3, 3] f16 [128] f16 [1, 128, 256, 256]",
            "linear+geglu [2, 256, 640] [5120, 640] f16 [5120] f16",
            "conv2d 3x3+add [2, 640, 32, 32] [320, 640, 3, 3] f16 [320] f16 [2, 320, 1, 1]",
            "conv2d 3x3+add [1, 256, 128, 128] [256, 256, 3, 3] f16 [256] f16 [1, 256, 128, 128]",
            "conv2d 3x3 [2, 640, 32, 32] [640, 640, 3, 3] f16 [640] f16",
            "conv2d 3x3+add [2, 1280, 4, 4] [1280, 1280, 3, 3] f16 [1280] f16 [2, 1280, 1, 1]",
            "conv2d 3x3 [1, 128, 256, 256] [128, 128, 3, 3] f16 [128] f16",
            "conv2d 3x3+add [2, 1920, 16, 16] [640, 1920, 3, 3] f16 [640] f16 [2, 640, 1, 1]",
            "conv2d 3x3+add [2, 960, 32, 32] [320, 960, 3, 3] f16 [320] f16 [2, 320, 1, 1]",
            "conv2d 3x3 [1, 512, 32, 32] [512, 512, 3, 3] f16 [512] f16",
            "conv2d 3x3 [1, 256, 256, 256] [128, 256, 3, 3] f16 [128] f16",
            "conv2d 3x3+add [1, 512, 32, 32] [512, 512, 3, 3] f16 [512] f16 [1, 512, 32, 32]",
            "linear+add [2, 1024, 1280] [320, 1280] f16 [320] f16 [2, 1024, 320]",
            "conv2d 3x3+add [2, 320, 32, 32] [320, 320, 3, 3] f16 [320] f16 [2, 320, 1, 1]",
            "conv2d 3x3 [1, 256, 128, 128] [256, 256, 3, 3] f16 [256] f16",
            "linear [2, 256, 640] [640, 640] f16",
            "linear+add [2, 256, 2560] [640, 2560] f16 [640] f16 [2, 256, 640]",
            "conv2d 3x3 [1, 512, 128, 128] [256, 512, 3, 3] f16 [256] f16",
            "linear [2, 1024, 320] [320, 320] f16",
            "conv2d 3x3+add [2, 1280, 16, 16] [640, 1280, 3, 3] f16 [640] f16 [2, 640, 1, 1]",
            "conv2d 3x3+add [2, 1920, 8, 8] [1280, 1920, 3, 3] f16 [1280] f16 [2, 1280, 1, 1]",
            "linear+add [2, 1024, 320] [320, 320] f16 [320] f16 [2, 1024, 320]",
            "conv2d 3x3+add [2, 960, 16, 16] [640, 960, 3, 3] f16 [640] f16 [2, 640, 1, 1]",
            "linear+add [2, 256, 640] [640, 640] f16 [640] f16 [2, 256, 640]",
            "conv2d 3x3 [2, 1280, 8, 8] [1280, 1280, 3, 3] f16 [1280] f16",
            "conv2d 3x3 [2, 320, 32, 32] [4, 320, 3, 3] f16 [4] f16",
            "groupNorm+silu [1, 128, 256, 256] [128] f16 [128] f16",
            "conv2d 3x3 [1, 128, 256, 256] [3, 128, 3, 3] f16 [3] f16",
            "conv2d 3x3+add [2, 640, 16, 16] [640, 640, 3, 3] f16 [640] f16 [2, 640, 1, 1]",
            "conv2d 1x1+add [2, 320, 32, 32] [320, 320, 1, 1] f16 [320] f16 [2, 320, 32, 32]",
            "conv2d 3x3 s2 [2, 1280, 8, 8] [1280, 1280, 3, 3] f16 [1280] f16",
            "attention (cross) [2, 1024, 320] [2, 77, 320] [2, 77, 320]",
            "attention (self) [2, 256, 640] [2, 256, 640] [2, 256, 640]",
            "layerNorm [2, 1024, 320] [320] f16 [320] f16",
            "conv2d 1x1 [2, 320, 32, 32] [320, 320, 1, 1] f16 [320] f16",
            "conv2d 1x1 [1, 512, 128, 128] [256, 512, 1, 1] f16 [256] f16",
            "conv2d 1x1+add [2, 640, 16, 16] [640, 640, 1, 1] f16 [640] f16 [2, 640, 16, 16]",
            "conv2d 1x1 [2, 640, 16, 16] [640, 640, 1, 1] f16 [640] f16",
            "conv2d 3x3+add [2, 320, 16, 16] [640, 320, 3, 3] f16 [640] f16 [2, 640, 1, 1]",
            "conv2d 1x1 [2, 640, 32, 32] [320, 640, 1, 1] f16 [320] f16",
            "conv2d 3x3+add [2, 640, 8, 8] [1280, 640, 3, 3] f16 [1280] f16 [2, 1280, 1, 1]",
            "conv2d 1x1 [1, 256, 256, 256] [128, 256, 1, 1] f16 [128] f16",
            "attention (self) [1, 1024, 512] [1, 1024, 512] [1, 1024, 512]",
            "conv2d 1x1 [2, 2560, 4, 4] [1280, 2560, 1, 1] f16 [1280] f16",
            "linear+geglu [2, 16, 1280] [10240, 1280] f16 [10240] f16",
            "groupNorm+silu [1, 256, 128, 128] [256] f16 [256] f16",
            "conv2d 3x3 s2 [2, 320, 32, 32] [320, 320, 3, 3] f16 [320] f16",
            "conv2d 1x1 [2, 960, 32, 32] [320, 960, 1, 1] f16 [320] f16",
            "layerNorm [2, 256, 640] [640] f16 [640] f16",
            "linear [1, 1024, 512] [512, 512] f16 [512] f16",
            "conv2d 3x3 s2 [2, 640, 16, 16] [640, 640, 3, 3] f16 [640] f16",
            "attention (cross) [2, 256, 640] [2, 77, 640] [2, 77, 640]",
            "conv2d 1x1 [2, 1920, 16, 16] [640, 1920, 1, 1] f16 [640] f16",
            "linear+add [2, 16, 5120] [1280, 5120] f16 [1280] f16 [2, 16, 1280]",
            "linear [2, 16, 1280] [1280, 1280] f16",
            "conv2d 1x1 [2, 1280, 16, 16] [640, 1280, 1, 1] f16 [640] f16",
            "conv2d 1x1 [2, 1920, 8, 8] [1280, 1920, 1, 1] f16 [1280] f16",
            "conv2d 1x1 [2, 960, 16, 16] [640, 960, 1, 1] f16 [640] f16",
            "groupNorm [2, 320, 32, 32] [320] f16 [320] f16",
            "linear+add [2, 16, 1280] [1280, 1280] f16 [1280] f16 [2, 16, 1280]",
            "groupNorm+silu [1, 512, 32, 32] [512] f16 [512] f16",
            "conv2d 1x1+add [2, 1280, 4, 4] [1280, 1280, 1, 1] f16 [1280] f16 [2, 1280, 4, 4]",
            "conv2d 1x1 [2, 1280, 4, 4] [1280, 1280, 1, 1] f16 [1280] f16",
            "conv2d 1x1 [2, 320, 16, 16] [640, 320, 1, 1] f16 [640] f16",
            "conv2d 3x3 [2, 4, 32, 32] [320, 4, 3, 3] f16 [320] f16",
            "conv2d 1x1 [2, 640, 8, 8] [1280, 640, 1, 1] f16 [1280] f16",
            "groupNorm+silu [2, 1280, 4, 4] [1280] f16 [1280] f16",
            "groupNorm [2, 640, 16, 16] [640] f16 [640] f16",
            "attention (cross) [2, 16, 1280] [2, 77, 1280] [2, 77, 1280]",
            "groupNorm+silu [2, 960, 16, 16] [960] f16 [960] f16",
            "groupNorm+silu [2, 2560, 4, 4] [2560] f16 [2560] f16",
            "layerNorm [2, 16, 1280] [1280] f16 [1280] f16",
            "conv2d 3x3 [1, 4, 32, 32] [512, 4, 3, 3] f16 [512] f16",
            "attention (self) [2, 16, 1280] [2, 16, 1280] [2, 16, 1280]",
            "groupNorm+silu [2, 1920, 8, 8] [1920] f16 [1920] f16",
            "groupNorm [1, 512, 32, 32] [512] f16 [512] f16",
            "groupNorm+silu [2, 640, 8, 8] [640] f16 [640] f16",
            "groupNorm+silu [2, 320, 16, 16] [320] f16 [320] f16",
            "conv2d 1x1 [1, 4, 32, 32] [4, 4, 1, 1] f16 [4] f16",
            "groupNorm [2, 1280, 4, 4] [1280] f16 [1280] f16"
    })
    public String row;

    private static final Pattern OPERAND = Pattern.compile("\\[([0-9, ]*)\\]( f16| bf16)?");

    Supplier<Tensor> call;

    @Setup
    public void setup() {
        call = call(row, OpsData.backend());
    }

    @Benchmark
    public Tensor op(CpuTime clock) {
        long t0 = CpuTime.allThreads();
        Tensor result = call.get();
        clock.add(CpuTime.allThreads() - t0);
        return result;
    }

    /** An operand of a row: its shape, and whether it is an F16 weight. */
    record Operand(int[] shape, boolean f16) {
    }

    /** The op of a --profile-shapes row: everything before its first operand. */
    static String op(String key) {
        int bracket = key.indexOf(" [");
        if (bracket < 0) {
            throw new IllegalArgumentException("Sd15ShapesBench: no operand shapes in '" + key + "'");
        }
        return key.substring(0, bracket);
    }

    /** The operands of a row, in the profiler's order ("[2, 320, 64, 64] [320, 320, 3, 3] f16 ..."). */
    static List<Operand> operands(String key) {
        List<Operand> list = new ArrayList<>();
        Matcher m = OPERAND.matcher(key.substring(op(key).length()));
        while (m.find()) {
            String[] parts = m.group(1).split(", ");
            int[] shape = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                shape[i] = Integer.parseInt(parts[i]);
            }
            list.add(new Operand(shape, m.group(2) != null));
        }
        return list;
    }

    /** The backend call a --profile-shapes row names, on seeded random operands of its shapes. */
    static Supplier<Tensor> call(String key, Backend cpu) {
        String op = op(key);
        List<Tensor> t = new ArrayList<>();
        long seed = 1;
        for (Operand o : operands(key)) {
            Tensor r = OpsData.rand(seed++, 0.5f, o.shape());
            t.add(o.f16() ? OpsData.f16(r) : r);
        }
        switch (op) {
            case "linear":
                return () -> cpu.linear(t.get(0), t.get(1), t.size() > 2 ? t.get(2) : null, null);
            case "linear+add":
                return () -> cpu.linearAdd(t.get(0), t.get(1), t.get(2), t.get(3));
            case "linear+geglu":
                return () -> cpu.linearGeglu(t.get(0), t.get(1), t.get(2));
            case "attention (self)", "attention (cross)": {
                float scale = (float) (1 / Math.sqrt(t.get(0).dim(-1) / 8.0));
                return () -> cpu.attention(t.get(0), t.get(1), t.get(2), 8, scale, false);
            }
            case "groupNorm", "groupNorm+silu": {
                boolean silu = op.endsWith("silu");
                return () -> cpu.groupNorm(t.get(0), 32, t.get(1), t.get(2), 1e-5f, silu);
            }
            case "layerNorm":
                return () -> cpu.layerNorm(t.get(0), t.get(1), t.get(2), 1e-5f);
            default:
                break;
        }
        if (op.startsWith("conv2d ")) {
            Tensor x = t.get(0), w = t.get(1), bias = t.size() > 2 && t.get(2).rank() == 1 ? t.get(2) : null;
            int stride = op.contains(" s2") ? 2 : 1, pad = w.dim(2) / 2;
            if (op.endsWith("+add")) {
                Tensor residual = t.getLast();
                return () -> cpu.conv2dAdd(x, w, bias, stride, pad, pad, pad, pad, residual);
            }
            return () -> cpu.conv2d(x, w, bias, stride, pad, pad, pad, pad);
        }
        throw new IllegalArgumentException("Sd15ShapesBench: no call for op '" + op + "' (" + key + ")");
    }
}
