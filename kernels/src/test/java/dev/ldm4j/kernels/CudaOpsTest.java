// Every CUDA op against the CPU backend on seeded random input with odd sizes (and sizes that pick the
// large GEMM tile), F16/BF16 weights, strided and broadcast views. Tolerance: max |gpu - cpu| over
// max |cpu| at most 1e-4 (fp32; the two differ only in summation order). Skipped without a usable GPU.
package dev.ldm4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Device;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CudaOpsTest {
    private static final double TOL = 1e-4;
    private static Backend gpu;
    private static Backend cpu;

    @BeforeAll
    static void backends() {
        var why = new CudaBackendProvider().unavailableReason();
        Assumptions.assumeTrue(why.isEmpty(), () -> "CUDA op tests skipped: " + why.orElse(""));
        try {
            cpu = Backends.create("cpu");
        } catch (RuntimeException e) {
            Assumptions.abort("CUDA op tests skipped: no CPU reference backend (" + e.getMessage() + ")");
        }
        gpu = ((CudaBackend) Backends.create("cuda")).withPrecision(CudaPrecision.FP32);
    }

    @AfterAll
    static void report() {
        if (gpu instanceof CudaBackend c) {
            System.out.println("CudaOpsTest on " + c.describe() + "; " + c.memoryStats());
        }
    }

    // ------------------------------------------------------------ helpers

    private static Tensor rand(long seed, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return Tensor.of(v, shape);
    }

    /** A host tensor of dtype F16 or BF16 holding (a rounding of) t's values. */
    private static Tensor halfPrecision(Tensor t, DType dt) {
        float[] v = t.toFloatArray();
        MemorySegment seg = Arena.ofAuto().allocate(v.length * 2L, 2);
        for (int i = 0; i < v.length; i++) {
            short bits = dt == DType.F16 ? Float.floatToFloat16(v[i]) : (short) (Float.floatToIntBits(v[i]) >>> 16);
            seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, bits);
        }
        return Tensor.of(new SegmentStorage(seg, dt), t.shape());
    }

    /** Runs op on both backends (inputs moved to the GPU first) and compares. */
    private static void same(String what, Function<Backend, Tensor> op) {
        Tensor want = cpu.toHost(op.apply(cpu));
        Tensor gotDev = op.apply(gpu);
        assertTrue(gotDev.device() == Device.CUDA, what + ": result not on the GPU");
        Tensor got = gpu.toHost(gotDev);
        assertArrayEquals(want.shape(), got.shape(), what + ": shape");
        float[] a = want.toFloatArray(), b = got.toFloatArray();
        double maxRef = 0, maxErr = 0;
        for (int i = 0; i < a.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(a[i]));
            double e = Math.abs(a[i] - b[i]);
            maxErr = Double.isNaN(b[i]) ? Double.POSITIVE_INFINITY : Math.max(maxErr, e);
        }
        double rel = maxErr / Math.max(maxRef, 1e-30);
        assertTrue(rel <= TOL, what + ": relative error " + rel + " > " + TOL + " (max |cpu| " + maxRef + ")");
    }

    private static Tensor on(Backend b, Tensor host) {
        return b.toDevice(host);
    }

    // ------------------------------------------------------------ copies

    @Test
    void roundTripKeepsValuesAndWidensHalfPrecision() {
        Tensor x = rand(1, 3, 17, 5);
        assertArrayEquals(x.toFloatArray(), gpu.toHost(gpu.toDevice(x)).toFloatArray());
        for (DType dt : new DType[] {DType.F16, DType.BF16}) {
            Tensor h = halfPrecision(x, dt);
            Tensor d = gpu.toDevice(h);
            assertTrue(d.dtype() == dt, "toDevice keeps " + dt);
            assertArrayEquals(h.toFloatArray(), gpu.toHost(d).toFloatArray(), dt + " widened on the device");
        }
    }

    @Test
    void contiguousOfPermutedSlicedAndBroadcastViews() {
        Tensor x = rand(2, 4, 6, 9);
        same("permute", b -> b.contiguous(on(b, x).permute(2, 0, 1)));
        same("slice", b -> b.contiguous(on(b, x).slice(1, 1, 5).slice(2, 2, 7)));
        same("broadcast", b -> b.contiguous(on(b, rand(3, 6, 1)).broadcastTo(3, 6, 7)));
        same("f16 transpose", b -> b.contiguous(on(b, halfPrecision(x, DType.F16)).transpose(0, 2)));
        // After merging dimensions: a batch of tiled transposes (NCHW -> tokens), and unit-stride rows.
        same("permute to tokens", b -> b.contiguous(on(b, rand(120, 2, 40, 9, 10)).permute(0, 2, 3, 1)));
        same("f16 permute to tokens", b -> b.contiguous(on(b, halfPrecision(rand(121, 3, 33, 70), DType.F16)).transpose(1, 2)));
        same("rows of a slice", b -> b.contiguous(on(b, rand(122, 4, 6, 50)).slice(1, 1, 5)));
    }

    // ------------------------------------------------------------ matrix products

    @Test
    void matmulWithOddSizesBroadcastBatchesAndTransposedViews() {
        same("matmul 2d", b -> b.matmul(on(b, rand(4, 37, 53)), on(b, rand(5, 53, 29))));
        same("matmul batched", b -> b.matmul(on(b, rand(6, 3, 37, 53)), on(b, rand(7, 3, 53, 29))));
        same("matmul broadcast", b -> b.matmul(on(b, rand(8, 2, 1, 17, 19)), on(b, rand(9, 3, 19, 23))));
        same("matmul transposed b", b -> b.matmul(on(b, rand(10, 2, 31, 40)), on(b, rand(11, 2, 33, 40)).transpose(1, 2)));
        same("matmul large tile", b -> b.matmul(on(b, rand(12, 8, 300, 37)), on(b, rand(13, 8, 37, 700))));
    }

    @Test
    void linearWithBiasActivationsAndHalfPrecisionWeights() {
        Tensor x = rand(20, 2, 7, 33), w = rand(21, 45, 33), bias = rand(22, 45);
        for (Activation act : Activation.values()) {
            same("linear " + act, b -> b.linear(on(b, x), on(b, w), on(b, bias), act));
        }
        same("linear no bias", b -> b.linear(on(b, x), on(b, w), null, Activation.NONE));
        for (DType dt : new DType[] {DType.F16, DType.BF16}) {
            Tensor wh = halfPrecision(w, dt), bh = halfPrecision(bias, dt);
            same("linear " + dt, b -> b.linear(on(b, x), on(b, wh), on(b, bh), Activation.NONE));
        }
        same("linear large", b -> b.linear(on(b, rand(23, 2, 1030, 320)), on(b, rand(24, 1280, 320)), on(b, rand(25, 1280)), Activation.GELU));
        same("linear + residual (fused epilogue)", b -> b.linearAdd(on(b, x), on(b, w), on(b, bias), on(b, rand(26, 2, 7, 45))));
        same("linear + geglu (fp32: composed)", b -> b.linearGeglu(on(b, x), on(b, rand(27, 90, 333)), on(b, rand(28, 90))));
    }

    @Test
    void conv2dKernelSizesStridesAndAsymmetricPadding() {
        Tensor x = rand(30, 2, 5, 13, 11);
        same("conv 3x3 pad 1", b -> b.conv2d(on(b, x), on(b, rand(31, 7, 5, 3, 3)), on(b, rand(32, 7)), 1, 1));
        same("conv 1x1", b -> b.conv2d(on(b, x), on(b, rand(33, 9, 5, 1, 1)), on(b, rand(34, 9)), 1, 0));
        same("conv 3x3 + residual (fused epilogue)", b -> b.conv2dAdd(on(b, x), on(b, rand(45, 7, 5, 3, 3)), on(b, rand(46, 7)), 1, 1, 1, 1, 1,
                on(b, rand(47, 2, 7, 13, 11))));
        same("conv 3x3 + [N, O, 1, 1] (time embedding, fused)", b -> b.conv2dAdd(on(b, x), on(b, rand(48, 7, 5, 3, 3)), on(b, rand(49, 7)), 1, 1, 1, 1, 1,
                on(b, rand(50, 2, 7, 1, 1))));
        same("conv 3x3 + [1, O, 1, 1]", b -> b.conv2dAdd(on(b, x), on(b, rand(51, 7, 5, 3, 3)), null, 1, 1, 1, 1, 1, on(b, rand(52, 1, 7, 1, 1))));
        same("conv to a 1x1 output + [1, O, 1, 1]", b -> b.conv2dAdd(on(b, rand(55, 2, 5, 3, 3)), on(b, rand(56, 7, 5, 3, 3)), null, 1, 0,
                0, 0, 0, on(b, rand(57, 1, 7, 1, 1))));
        same("conv 3x3 + [N, 1, H, W] (composed)", b -> b.conv2dAdd(on(b, x), on(b, rand(53, 7, 5, 3, 3)), null, 1, 1, 1, 1, 1, on(b, rand(54, 2, 1, 13, 11))));
        same("conv stride 2 pad (0,1,0,1)", b -> b.conv2d(on(b, x), on(b, rand(35, 6, 5, 3, 3)), on(b, rand(36, 6)), 2, 0, 1, 0, 1));
        same("conv 2x4 kernel stride 3", b -> b.conv2d(on(b, x), on(b, rand(43, 4, 5, 2, 4)), on(b, rand(44, 4)), 3, 1, 0, 2, 1));
        same("conv 1x1 large tile", b -> b.conv2d(on(b, rand(45, 2, 16, 64, 70)), on(b, rand(46, 260, 16, 1, 1)), on(b, rand(47, 260)), 1, 0));
        same("conv stride 2 pad 1 no bias", b -> b.conv2d(on(b, x), on(b, rand(37, 6, 5, 3, 3)), null, 2, 1));
        same("conv f16 weights", b -> b.conv2d(on(b, x), on(b, halfPrecision(rand(38, 7, 5, 3, 3), DType.F16)),
                on(b, halfPrecision(rand(39, 7), DType.F16)), 1, 1));
        same("conv large tile", b -> b.conv2d(on(b, rand(40, 2, 8, 64, 64)), on(b, rand(41, 300, 8, 3, 3)), on(b, rand(42, 300)), 1, 1));
    }

    // ------------------------------------------------------------ normalization and attention

    @Test
    void groupNormLayerNormAndSoftmax() {
        Tensor x = rand(50, 2, 12, 5, 7);
        Tensor g = rand(51, 12), be = rand(52, 12);
        same("groupNorm", b -> b.groupNorm(on(b, x), 4, on(b, g), on(b, be), 1e-5f, false));
        same("groupNorm silu", b -> b.groupNorm(on(b, x), 3, on(b, g), on(b, be), 1e-6f, true));
        same("groupNorm bf16 affine", b -> b.groupNorm(on(b, x), 6, on(b, halfPrecision(g, DType.BF16)), on(b, halfPrecision(be, DType.BF16)), 1e-5f, true));
        same("groupNorm split groups", b -> b.groupNorm(on(b, rand(63, 1, 8, 300, 301)), 2, on(b, rand(64, 8)), on(b, rand(65, 8)), 1e-6f, false));
        same("groupNorm large group", b -> b.groupNorm(on(b, rand(53, 2, 64, 33, 35)), 32, on(b, rand(54, 64)), on(b, rand(55, 64)), 1e-5f, true));
        Tensor y = rand(56, 3, 5, 77);
        same("layerNorm", b -> b.layerNorm(on(b, y), on(b, rand(57, 77)), on(b, rand(58, 77)), 1e-5f));
        same("layerNorm 1280", b -> b.layerNorm(on(b, rand(59, 3, 1281)), on(b, rand(60, 1281)), on(b, rand(61, 1281)), 1e-5f));
        same("softmax", b -> b.softmax(b.scale(on(b, rand(62, 4, 9, 131)), 20f)));
    }

    @Test
    void attentionHeadDimsCrossCausalAndStridedViews() {
        int[][] cases = {{2, 70, 77, 2, 40}, {1, 45, 45, 3, 80}, {2, 33, 19, 1, 160}, {1, 130, 67, 2, 64}, {1, 9, 200, 5, 24}, {1, 17, 17, 1, 256}, {2, 1100, 37, 1, 512}};
        for (int[] c : cases) {
            int bsz = c[0], lq = c[1], lk = c[2], h = c[3], d = c[4];
            Tensor q = rand(70 + d, bsz, lq, h * d), k = rand(71 + d, bsz, lk, h * d), v = rand(72 + d, bsz, lk, h * d);
            float scale = (float) (1 / Math.sqrt(d));
            same("attention d" + d, b -> b.attention(on(b, q), on(b, k), on(b, v), h, scale, false));
            if (lq == lk && d <= 256) {
                same("attention causal d" + d, b -> b.attention(on(b, q), on(b, k), on(b, v), h, scale, true));
            }
        }
        Tensor qkv = rand(80, 2, 29, 3 * 2 * 40);
        same("attention on slices of a fused qkv", b -> {
            Tensor t = on(b, qkv);
            return b.attention(t.slice(2, 0, 80), t.slice(2, 80, 160), t.slice(2, 160, 240), 2, 0.125f, true);
        });
    }

    // ------------------------------------------------------------ pointwise

    @Test
    void activationsGegluAndBinaryOpsWithBroadcasting() {
        Tensor x = rand(90, 3, 5, 17);
        for (Activation act : Activation.values()) {
            same("activation " + act, b -> b.activation(on(b, x), act));
        }
        same("geglu", b -> b.geglu(on(b, rand(91, 3, 5, 38))));
        Tensor a = rand(92, 2, 3, 4, 5), c = rand(93, 3, 1, 5);
        same("add broadcast", b -> b.add(on(b, a), on(b, c)));
        same("sub broadcast", b -> b.sub(on(b, c), on(b, a)));
        same("mul broadcast", b -> b.mul(on(b, a), on(b, rand(94, 5))));
        same("add dense", b -> b.add(on(b, a), on(b, rand(95, 2, 3, 4, 5))));
        same("mul permuted", b -> b.mul(on(b, a), on(b, rand(96, 5, 4, 3, 2)).permute(3, 2, 1, 0)));
        same("add f16 bias", b -> b.add(on(b, a), on(b, halfPrecision(rand(97, 3, 1, 1), DType.F16))));
        same("scale", b -> b.scale(on(b, x), -0.3f));
        same("clamp", b -> b.clamp(on(b, x), -0.5f, 0.75f));
        same("scale of view", b -> b.scale(on(b, x).transpose(0, 2), 2f));
    }

    // ------------------------------------------------------------ shape ops

    @Test
    void upsampleConcatEmbeddingsAndReductions() {
        same("upsample", b -> b.upsampleNearest2x(on(b, rand(100, 2, 3, 5, 7))));
        same("upsample to 9x13", b -> b.upsampleNearest(on(b, rand(100, 2, 3, 5, 7)), 9, 13));
        same("upsample to 5x7", b -> b.upsampleNearest(on(b, rand(110, 1, 4, 3, 4)), 5, 7));
        same("upsample to 3x4 of a view", b -> b.upsampleNearest(on(b, rand(111, 2, 3, 2, 2)).transpose(2, 3), 3, 4));
        same("upsample to exact 2x", b -> b.upsampleNearest(on(b, rand(100, 2, 3, 5, 7)), 10, 14));
        same("upsample 2 -> 82 rows", b -> b.upsampleNearest(on(b, rand(112, 1, 2, 2, 3)), 82, 5));
        same("concat dim 1", b -> b.concat(1, on(b, rand(101, 2, 3, 4)), on(b, rand(102, 2, 5, 4)), on(b, rand(103, 2, 4, 3)).transpose(1, 2)));
        same("concat dim 0 f16", b -> b.concat(0, on(b, rand(104, 1, 6)), on(b, halfPrecision(rand(105, 2, 6), DType.F16))));
        same("concat last", b -> b.concat(-1, on(b, rand(106, 3, 2)), on(b, rand(107, 3, 5))));
        same("concat dim 1 long rows", b -> b.concat(1, on(b, rand(108, 2, 3, 8, 5)), on(b, rand(109, 2, 5, 8, 5))));
        float[] ts = {0f, 1f, 500f, 999f, 37.5f};
        same("timestep 320 flip", b -> b.timestepEmbedding(ts, 320, true, 0f));
        same("timestep 33 shift", b -> b.timestepEmbedding(ts, 33, false, 1f));
        Tensor table = rand(108, 50, 24);
        int[] ids = {0, 49, 7, 7, 13};
        same("embedding", b -> b.embedding(on(b, table), ids));
        same("embedding f16", b -> b.embedding(on(b, halfPrecision(table, DType.F16)), ids));
        Tensor x = rand(109, 3, 7, 11);
        for (int dim = -1; dim < 3; dim++) {
            int d = dim;
            same("sum " + d, b -> b.sum(on(b, x), d));
            same("mean " + d, b -> b.mean(on(b, x), d));
        }
    }

    @Test
    void badInputGivesOneLineErrors() {
        var e = assertThrows(IllegalArgumentException.class, () -> gpu.embedding(gpu.toDevice(rand(1, 4, 2)), new int[] {1, 4}));
        assertTrue(e.getMessage().contains("id 4"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> gpu.matmul(gpu.toDevice(rand(1, 3, 4)), gpu.toDevice(rand(2, 5, 6))));
        assertThrows(IllegalArgumentException.class, () -> gpu.conv2d(gpu.toDevice(rand(1, 1, 3, 5, 5)), gpu.toDevice(rand(2, 4, 2, 3, 3)), null, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> gpu.attention(gpu.toDevice(rand(1, 1, 4, 6)), gpu.toDevice(rand(2, 1, 4, 6)),
                gpu.toDevice(rand(3, 1, 4, 6)), 4, 1f, false));
    }

    @Test
    void manySmallOpsReuseCachedMemoryInsteadOfAllocatingEachTime() {
        CudaBackend c = (CudaBackend) gpu;
        Tensor x = gpu.toDevice(rand(120, 64, 64));
        long before = c.deviceAllocationCount();
        int ops = 10_000;
        for (int i = 0; i < ops; i++) {
            x = gpu.scale(x, 1.0f);
        }
        long fresh = c.deviceAllocationCount() - before;
        assertArrayEquals(rand(120, 64, 64).toFloatArray(), gpu.toHost(x).toFloatArray());
        System.out.println(ops + " scale ops made " + fresh + " cuMemAlloc calls; " + c.memoryStats());
        assertTrue(fresh < ops / 2, ops + " ops made " + fresh + " device allocations; the cache should serve most of them");
    }

    @Test
    void aReleasedBlockServesTheNextOpAndItsTensorRefusesUse() {
        Tensor x = gpu.toDevice(rand(121, 257, 33));
        Tensor a = gpu.scale(x, 2f);
        ((CudaBackend) gpu).trimCache();  // no cached block of a's size left from earlier tests
        long allocations = ((CudaBackend) gpu).deviceAllocationCount();
        gpu.release(a);
        gpu.release(a);
        gpu.scale(x, 3f);
        assertEquals(allocations, ((CudaBackend) gpu).deviceAllocationCount(), "the released block (or another of its size) serves the next op");
        same("after release", bk -> bk.scale(on(bk, rand(121, 257, 33)), 3f));
        var e = assertThrows(IllegalStateException.class, () -> gpu.add(a, x));
        assertTrue(e.getMessage().contains("after Backend.release"), e.getMessage());
        Tensor weight = gpu.toDeviceWeight(rand(122, 16, 8));
        assertThrows(IllegalArgumentException.class, () -> gpu.release(weight));
        assertThrows(IllegalArgumentException.class, () -> gpu.release(rand(123, 4)));
    }

    @Test
    void aScopeGivesBackEveryBlockMadeInsideItExceptTheKeptOne() {
        CudaBackend c = (CudaBackend) gpu;
        Tensor x = gpu.toDevice(rand(124, 2, 8, 48, 48));
        long allocations = 0;
        float[] last = null;
        for (int round = 0; round < 20; round++) {
            if (round == 1) {
                allocations = c.deviceAllocationCount();
            }
            Tensor result;
            try (TensorScope scope = TensorScope.open()) {
                Tensor h = gpu.groupNorm(x, 4, null, null, 1e-5f, true);
                Tensor g = gpu.conv2d(h, gpu.toDevice(rand(125, 8, 8, 3, 3)), null, 1, 1);
                result = scope.keep(gpu.add(g, x));
            }
            assertTrue(result.storage() instanceof CudaStorage s && !isReleased(s), "the kept result survives its scope");
            last = gpu.toHost(result).toFloatArray();
            gpu.release(result);
        }
        assertEquals(allocations, c.deviceAllocationCount(), "each round reuses the blocks the one before gave back");
        Tensor xh = rand(124, 2, 8, 48, 48);
        float[] want = cpu.add(cpu.conv2d(cpu.groupNorm(xh, 4, null, null, 1e-5f, true), rand(125, 8, 8, 3, 3), null, 1, 1), xh).toFloatArray();
        double maxErr = 0, maxRef = 0;
        for (int i = 0; i < want.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(want[i]));
            maxErr = Math.max(maxErr, Float.isNaN(last[i]) ? Double.POSITIVE_INFINITY : Math.abs(want[i] - last[i]));
        }
        assertTrue(maxErr <= TOL * maxRef, "the last round's kept result: relative error " + maxErr / maxRef);
    }

    private static boolean isReleased(CudaStorage s) {
        try {
            s.pointer(0);
            return false;
        } catch (IllegalStateException e) {
            return true;
        }
    }
}
