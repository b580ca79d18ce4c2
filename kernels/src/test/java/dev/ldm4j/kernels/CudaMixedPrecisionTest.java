// The FP16/BF16 precisions (tensor-core linear, matmul, conv2d, attention at head dims 40/64/80/160) against the CPU fp32 backend on seeded
// random inputs, with odd sizes (partial tiles, K not a multiple of the slice), both tile sizes, strided
// and transposed operands, F32/F16/BF16 weights. Skipped without a usable GPU.
//
// Tolerance, as ||gpu - cpu|| / ||cpu|| over the whole output: rounding an operand to a format with
// unit roundoff u gives each product a relative error of at most 2u, uniformly spread, so about
// u * sqrt(2/3) in rms; with fp32 accumulation a sum of K random-sign products keeps that relative rms
// error. fp16: u = 2^-11 = 4.9e-4, so about 4e-4 expected; the test allows 2e-3. bf16: u = 2^-8 =
// 3.9e-3, so about 3.2e-3 expected; the test allows 1.2e-2. A wrong index or a missing tile lands
// near 1, far above either bound, and the lower bound (> 1e-5) checks that the rounding really happens.
package dev.ldm4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class CudaMixedPrecisionTest {
    private static Backend cpu;
    private static CudaBackend fp32;

    @BeforeAll
    static void backends() {
        var why = new CudaBackendProvider().unavailableReason();
        Assumptions.assumeTrue(why.isEmpty(), () -> "CUDA mixed-precision tests skipped: " + why.orElse(""));
        try {
            cpu = Backends.create("cpu");
        } catch (RuntimeException e) {
            Assumptions.abort("CUDA mixed-precision tests skipped: no CPU reference backend (" + e.getMessage() + ")");
        }
        fp32 = ((CudaBackend) Backends.create("cuda")).withPrecision(CudaPrecision.FP32);
    }

    private static double tolerance(CudaPrecision p) {
        return p == CudaPrecision.FP16 ? 2e-3 : 1.2e-2;
    }

    private static Tensor rand(long seed, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return Tensor.of(v, shape);
    }

    private static Tensor halfPrecision(Tensor t, DType dt) {
        float[] v = t.toFloatArray();
        MemorySegment seg = Arena.ofAuto().allocate(v.length * 2L, 2);
        for (int i = 0; i < v.length; i++) {
            short bits = dt == DType.F16 ? Float.floatToFloat16(v[i]) : (short) (Float.floatToIntBits(v[i]) >>> 16);
            seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, bits);
        }
        return Tensor.of(new SegmentStorage(seg, dt), t.shape());
    }

    /** Runs op on the CPU and on the GPU in precision p; returns ||gpu - cpu|| / ||cpu|| after checking it. */
    private static double close(CudaPrecision p, String what, Function<Backend, Tensor> op) {
        CudaBackend gpu = fp32.withPrecision(p);
        Tensor want = cpu.toHost(op.apply(cpu));
        Tensor got = gpu.toHost(op.apply(gpu));
        assertArrayEquals(want.shape(), got.shape(), what + ": shape");
        float[] a = want.toFloatArray(), b = got.toFloatArray();
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            double d = (double) b[i] - a[i];
            num += Double.isNaN(b[i]) ? Double.POSITIVE_INFINITY : d * d;
            den += (double) a[i] * a[i];
        }
        double rel = Math.sqrt(num / den);
        System.out.printf("%s %s: relative error %.2e%n", p.label(), what, rel);
        assertTrue(rel <= tolerance(p), p + " " + what + ": relative error " + rel + " > " + tolerance(p));
        assertTrue(rel > 1e-5, p + " " + what + ": relative error " + rel + " is fp32-like; were the operands rounded?");
        return rel;
    }

    @ParameterizedTest
    @EnumSource(value = CudaPrecision.class, names = {"FP16", "BF16"})
    void linearMatchesFp32WithinOperandRounding(CudaPrecision p) {
        Tensor x = rand(1, 2, 7, 333), w = rand(2, 45, 333), bias = rand(3, 45);
        close(p, "linear", b -> b.linear(b.toDevice(x), b.toDevice(w), b.toDevice(bias), Activation.NONE));
        close(p, "linear gelu", b -> b.linear(b.toDevice(x), b.toDevice(w), b.toDevice(bias), Activation.GELU));
        for (DType dt : new DType[] {DType.F16, DType.BF16}) {
            Tensor wh = halfPrecision(w, dt);
            close(p, "linear " + dt + " weight", b -> b.linear(b.toDevice(x), b.toDevice(wh), null, Activation.NONE));
        }
        close(p, "linear transposed weight", b -> b.linear(b.toDevice(x), b.toDevice(rand(4, 333, 45)).transpose(0, 1), null, Activation.NONE));
        close(p, "linear large tile", b -> b.linear(b.toDevice(rand(5, 2, 1030, 320)), b.toDevice(rand(6, 1290, 320)),
                b.toDevice(rand(7, 1290)), Activation.SILU));
        close(p, "linear + residual", b -> b.linearAdd(b.toDevice(x), b.toDevice(w), b.toDevice(bias), b.toDevice(rand(8, 2, 7, 45))));
        // GEGLU's gate in the tensor-core epilogue (interleaved weight), both tiles, F16 weight as from a checkpoint.
        close(p, "linear + geglu", b -> b.linearGeglu(b.toDevice(x), b.toDevice(rand(9, 90, 333)), b.toDevice(rand(10, 90))));
        close(p, "linear + geglu large tile", b -> b.linearGeglu(b.toDevice(rand(11, 2, 1030, 320)), b.toDevice(halfPrecision(rand(12, 2560, 320), DType.F16)),
                b.toDevice(rand(13, 2560))));
    }

    @ParameterizedTest
    @EnumSource(value = CudaPrecision.class, names = {"FP16", "BF16"})
    void matmulMatchesFp32WithinOperandRounding(CudaPrecision p) {
        close(p, "matmul broadcast", b -> b.matmul(b.toDevice(rand(10, 2, 1, 37, 53)), b.toDevice(rand(11, 3, 53, 29))));
        close(p, "matmul transposed a", b -> b.matmul(b.toDevice(rand(12, 2, 53, 37)).transpose(1, 2), b.toDevice(rand(13, 2, 53, 29))));
        close(p, "matmul large tile", b -> b.matmul(b.toDevice(rand(14, 8, 300, 70)), b.toDevice(rand(15, 8, 70, 700))));
    }

    @ParameterizedTest
    @EnumSource(value = CudaPrecision.class, names = {"FP16", "BF16"})
    void conv2dMatchesFp32WithinOperandRounding(CudaPrecision p) {
        Tensor x = rand(20, 2, 5, 13, 11);
        close(p, "conv 3x3", b -> b.conv2d(b.toDevice(x), b.toDevice(rand(21, 7, 5, 3, 3)), b.toDevice(rand(22, 7)), 1, 1));
        close(p, "conv 1x1", b -> b.conv2d(b.toDevice(x), b.toDevice(rand(23, 9, 5, 1, 1)), null, 1, 0));
        close(p, "conv 2x4 stride 3", b -> b.conv2d(b.toDevice(x), b.toDevice(rand(24, 4, 5, 2, 4)), b.toDevice(rand(25, 4)), 3, 1, 0, 2, 1));
        close(p, "conv f16 weight", b -> b.conv2d(b.toDevice(x), b.toDevice(halfPrecision(rand(26, 7, 5, 3, 3), DType.F16)), null, 1, 1));
        close(p, "conv + residual", b -> b.conv2dAdd(b.toDevice(x), b.toDevice(rand(31, 7, 5, 3, 3)), b.toDevice(rand(32, 7)), 1, 1, 1, 1, 1,
                b.toDevice(rand(33, 2, 7, 13, 11))));
        close(p, "conv + time embedding", b -> b.conv2dAdd(b.toDevice(x), b.toDevice(rand(34, 7, 5, 3, 3)), b.toDevice(rand(35, 7)), 1, 1, 1, 1, 1,
                b.toDevice(rand(36, 2, 7, 1, 1))));
        close(p, "conv large tile", b -> b.conv2d(b.toDevice(rand(27, 2, 40, 64, 62)), b.toDevice(rand(28, 300, 40, 3, 3)),
                b.toDevice(rand(29, 300)), 1, 1));
        close(p, "conv permuted weight", b -> b.conv2d(b.toDevice(x), b.toDevice(rand(30, 3, 3, 5, 7)).permute(3, 2, 0, 1), null, 1, 1));
    }

    @ParameterizedTest
    @EnumSource(value = CudaPrecision.class, names = {"FP16", "BF16"})
    void attentionOnTensorCoresMatchesFp32WithinOperandRounding(CudaPrecision p) {
        for (int d : new int[] {40, 64, 80, 160}) {
            int heads = 2, hd = heads * d;
            // q, k, v as column slices of one fused projection [2, L, 3*H*D], as the U-Net's self-attention makes them.
            Tensor qkv = rand(40 + d, 2, 150, 3 * hd), ctx = rand(41 + d, 2, 77, 2 * hd);
            close(p, "self-attention d " + d, b -> {
                Tensor f = b.toDevice(qkv);
                return b.attention(f.slice(2, 0, hd), f.slice(2, hd, 2 * hd), f.slice(2, 2 * hd, 3 * hd), heads, (float) (1 / Math.sqrt(d)), false);
            });
            close(p, "causal self-attention d " + d, b -> {
                Tensor f = b.toDevice(qkv);
                return b.attention(f.slice(2, 0, hd), f.slice(2, hd, 2 * hd), f.slice(2, 2 * hd, 3 * hd), heads, (float) (1 / Math.sqrt(d)), true);
            });
            close(p, "cross-attention d " + d + " (77 keys)", b -> {
                Tensor f = b.toDevice(qkv), c = b.toDevice(ctx);
                return b.attention(f.slice(2, 0, hd), c.slice(2, 0, hd), c.slice(2, hd, 2 * hd), heads, (float) (1 / Math.sqrt(d)), false);
            });
        }
    }

    @ParameterizedTest
    @EnumSource(value = CudaPrecision.class, names = {"FP16", "BF16"})
    void weightsAreNarrowedOnceOnUpload(CudaPrecision p) {
        CudaBackend gpu = fp32.withPrecision(p);
        DType want = p.operandType();
        // 2100 x 4100 F32 = 34.4 MB: more than one 32 MiB staging chunk.
        for (Tensor w : new Tensor[] {rand(50, 45, 333), rand(51, 2100, 4100), halfPrecision(rand(52, 7, 5, 3, 3), DType.F16)}) {
            Tensor d = gpu.toDeviceWeight(w);
            assertEquals(want, d.dtype(), "stored dtype of " + java.util.Arrays.toString(w.shape()));
            float[] got = gpu.toHost(d).toFloatArray(), src = w.toFloatArray();
            for (int i = 0; i < src.length; i++) {
                float r = want == DType.F16 ? Float.float16ToFloat(Float.floatToFloat16(src[i]))
                        : Float.intBitsToFloat(bf16Bits(src[i]) << 16);
                if (Float.compare(r, got[i]) != 0) {
                    throw new AssertionError(p + " weight " + java.util.Arrays.toString(w.shape()) + " element " + i + ": " + got[i] + ", want " + r);
                }
            }
        }
        assertEquals(DType.F32, gpu.toDeviceWeight(rand(53, 320)).dtype(), "vectors (biases, norms) stay F32");
        assertEquals(DType.F32, fp32.toDeviceWeight(rand(54, 4, 4)).dtype(), "the FP32 mode keeps F32 weights");
        Tensor w = rand(55, 45, 333), x = rand(56, 2, 7, 333);
        close(p, "linear with a weight narrowed on upload", b -> b.linear(b.toDevice(x), b.toDeviceWeight(w), null, Activation.NONE));
    }

    /** The bf16 pattern of x rounded to nearest even (finite inputs). */
    private static int bf16Bits(float x) {
        int u = Float.floatToRawIntBits(x);
        return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
    }

    @Test
    void weightTwinIsMadeOnceAndFp32ModeStaysExact() {
        CudaBackend f16 = fp32.withPrecision(CudaPrecision.FP16);
        assertEquals(CudaPrecision.FP16, f16.precision());
        Tensor w = f16.toDevice(rand(40, 64, 96)), x = f16.toDevice(rand(41, 8, 96));
        Tensor first = f16.toHost(f16.linear(x, w, null, Activation.NONE));
        long before = f16.deviceAllocationCount();
        Tensor second = f16.toHost(f16.linear(x, w, null, Activation.NONE));
        assertArrayEquals(first.toFloatArray(), second.toFloatArray(), "same result from the cached twin");
        assertTrue(f16.deviceAllocationCount() - before <= 1, "the second call allocates only its output");
        Tensor exact = cpu.toHost(cpu.linear(cpu.toDevice(rand(41, 8, 96)), cpu.toDevice(rand(40, 64, 96)), null, Activation.NONE));
        float[] e = exact.toFloatArray(), g = fp32.toHost(fp32.linear(x, w, null, Activation.NONE)).toFloatArray();
        for (int i = 0; i < e.length; i++) {
            assertEquals(e[i], g[i], 1e-4 * Math.max(1, Math.abs(e[i])), "fp32 mode after the fp16 twin was made, element " + i);
        }
    }
}
