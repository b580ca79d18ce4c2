// Checks every CpuBackend op against the scalar CpuReference on seeded random inputs of odd sizes
// (prime dimensions, batch 1 and 3, non-square images), including strided, broadcast, offset and
// F16/BF16 views. Tolerance: relative error ||out - ref|| / ||ref|| <= 1e-5 (fp32 against double).
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CpuBackendTest {
    static final double TOL = 1e-5;
    final CpuBackend fast = new CpuBackend();
    final CpuReference ref = new CpuReference();
    final Random rng = new Random(20261126);

    // ---- helpers ----

    Tensor rand(int... shape) {
        return rand(1f, shape);
    }

    Tensor rand(float amp, int... shape) {
        float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (rng.nextGaussian() * amp);
        }
        return Tensor.of(a, shape);
    }

    /** The same values in F16 or BF16 segment storage (values rounded to that type). */
    static Tensor half(Tensor t, DType dtype) {
        float[] a = t.toFloatArray();
        MemorySegment seg = Arena.ofAuto().allocate(2L * a.length);
        var le = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < a.length; i++) {
            short bits = dtype == DType.F16 ? Float.floatToFloat16(a[i]) : (short) (Float.floatToIntBits(a[i]) >>> 16);
            seg.set(le, 2L * i, bits);
        }
        return Tensor.of(new SegmentStorage(seg, dtype), t.shape());
    }

    /** The same values as an F32 memory segment. */
    static Tensor segment(Tensor t) {
        float[] a = t.toFloatArray();
        MemorySegment seg = Arena.ofAuto().allocate(4L * a.length);
        for (int i = 0; i < a.length; i++) {
            seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i, a[i]);
        }
        return Tensor.of(new SegmentStorage(seg, DType.F32), t.shape());
    }

    /** The same logical values held transposed in memory (a non-contiguous view). */
    static Tensor transposedView(Tensor t) {
        int r = t.rank();
        Tensor tt = Tensor.of(t.transpose(r - 2, r - 1).toFloatArray(), swapped(t.shape(), r));
        return tt.transpose(r - 2, r - 1);
    }

    private static int[] swapped(int[] s, int r) {
        int[] o = s.clone();
        o[r - 2] = s[r - 1];
        o[r - 1] = s[r - 2];
        return o;
    }

    /** The same values as a slice at a non-zero offset of a larger tensor. */
    Tensor offsetView(Tensor t) {
        int[] big = t.shape();
        big[0] += 2;
        Tensor b = rand(big);
        float[] a = b.data();
        float[] src = t.toFloatArray();
        int start = Math.toIntExact(Tensor.numel(big) / big[0]);
        System.arraycopy(src, 0, a, start, src.length);
        return b.slice(0, 1, 1 + t.dim(0));
    }

    static double relErr(Tensor out, Tensor expected) {
        assertArrayEquals(expected.shape(), out.shape(), "shape");
        float[] o = out.toFloatArray(), e = expected.toFloatArray();
        double num = 0, den = 0;
        for (int i = 0; i < o.length; i++) {
            num += (double) (o[i] - e[i]) * (o[i] - e[i]);
            den += (double) e[i] * e[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    static void close(Tensor out, Tensor expected, String what) {
        double err = relErr(out, expected);
        assertTrue(err <= TOL, what + ": relative error " + err + " > " + TOL);
        assertTrue(out.isContiguous() && out.offset() == 0, what + ": result must be dense");
    }

    // ---- matrix products ----

    @Test
    void linearMatchesReferenceForAllWeightTypesAndActivations() {
        int[][] cases = {{1, 1, 1}, {3, 37, 29}, {131, 67, 41}, {150, 300, 70}, {7, 19, 1601}};
        for (int[] c : cases) {
            Tensor x = rand(c[0], c[1]);
            Tensor w = rand(0.2f, c[2], c[1]);
            Tensor bias = rand(c[2]);
            for (Tensor wv : new Tensor[] {w, half(w, DType.F16), half(w, DType.BF16), segment(w)}) {
                close(fast.linear(x, wv, bias, Activation.NONE), ref.linear(x, wv, bias, Activation.NONE), "linear " + Arrays.toString(c) + " " + wv.dtype());
            }
            for (Activation act : Activation.values()) {
                close(fast.linear(x, w, null, act), ref.linear(x, w, null, act), "linear " + act);
            }
        }
    }

    @Test
    void linearAcceptsBatchedStridedInputAndHalfBias() {
        Tensor x = transposedView(rand(3, 23, 17)); // [3, 23, 17] held transposed
        Tensor x2 = fast.contiguous(x);
        Tensor w = rand(13, 17);
        Tensor bias = half(rand(13), DType.F16);
        close(fast.linear(x, w, bias, Activation.GELU), ref.linear(x2, w, bias, Activation.GELU), "linear strided");
        Tensor xo = offsetView(rand(2, 5, 17)), wt = transposedView(rand(13, 17));
        close(fast.linear(xo, wt, null, Activation.SILU), ref.linear(xo, wt, null, Activation.SILU), "linear offset x, strided w");
    }

    @Test
    void matmulMatchesReferenceWithBroadcastBatchAndTransposedOperands() {
        Tensor a = rand(3, 1, 17, 23), b = rand(1, 2, 23, 19);
        close(fast.matmul(a, b), ref.matmul(a, b), "matmul broadcast");
        Tensor c = rand(5, 31, 7), d = transposedView(rand(5, 7, 11));
        close(fast.matmul(c, d), ref.matmul(c, d), "matmul transposed b");
        close(fast.matmul(transposedView(c), d), ref.matmul(c, d), "matmul transposed a");
        Tensor e = rand(133, 270), f = rand(270, 1601);
        close(fast.matmul(e, f), ref.matmul(e, f), "matmul large");
        Tensor g = rand(2, 3, 5), h = half(rand(5, 4), DType.F16);
        close(fast.matmul(g, h), ref.matmul(g, h), "matmul f16 rhs");
    }

    @Test
    void matmulWithATransposedLeftOperandMatchesReferenceAtTrainingSizes() {
        // a linear layer's weight gradient, g^T x: A held column-major; with K > Sgemm.KC and M <= Sgemm.SHARED_A_ROWS
        // A is packed whole (gemmShared)
        Tensor g = rand(300, 72), x = rand(300, 131);
        close(fast.matmul(g.transpose(0, 1), x), ref.matmul(fast.contiguous(g.transpose(0, 1)), x), "matmul g^T x");
        Tensor g2 = rand(1100, 200), x2 = rand(1100, 145);
        close(fast.matmul(g2.transpose(0, 1), x2), ref.matmul(fast.contiguous(g2.transpose(0, 1)), x2), "matmul g^T x, K over two blocks");
    }

    // ---- convolution ----

    @Test
    void conv2dWithTheBatchAsColumnsMatchesReferenceAndEachImageAloneBitForBit() {
        // O <= Sgemm.SHARED_A_ROWS: the whole batch is one GEMM; 4x4 and 5x3 maps put several images in one panel
        Object[][] cases = {
            {rand(6, 24, 4, 4), rand(0.2f, 40, 24, 3, 3), 1, 1},
            {rand(5, 7, 5, 3), rand(0.3f, 9, 7, 3, 3), 1, 1},
            {rand(4, 16, 9, 8), rand(0.2f, 33, 16, 3, 3), 2, 1},
            {rand(3, 20, 8, 8), rand(0.2f, 17, 20, 1, 1), 1, 0},
            {rand(2, 3, 16, 16), rand(0.3f, 200, 3, 3, 3), 1, 1},
        };
        for (Object[] c : cases) {
            Tensor x = (Tensor) c[0], w = (Tensor) c[1];
            int stride = (Integer) c[2], pad = (Integer) c[3];
            Tensor b = rand(w.dim(0));
            String what = "conv " + Arrays.toString(x.shape()) + " * " + Arrays.toString(w.shape()) + " s" + stride;
            Tensor y = fast.conv2d(x, w, b, stride, pad);
            close(y, ref.conv2d(x, w, b, stride, pad, pad, pad, pad), what);
            float[] all = y.toFloatArray(), xa = x.toFloatArray();
            int image = xa.length / x.dim(0), out = all.length / x.dim(0);
            for (int i = 0; i < x.dim(0); i++) {
                Tensor xi = Tensor.of(Arrays.copyOfRange(xa, i * image, (i + 1) * image), 1, x.dim(1), x.dim(2), x.dim(3));
                assertArrayEquals(Arrays.copyOfRange(all, i * out, (i + 1) * out), fast.conv2d(xi, w, b, stride, pad).toFloatArray(),
                        what + ": image " + i + " alone");
            }
        }
    }

    @Test
    void conv2dMatchesReferenceForPaddingStrideAndKernelSizes() {
        Tensor x = rand(3, 5, 11, 13);
        Tensor w3 = rand(0.3f, 7, 5, 3, 3), b = rand(7);
        close(fast.conv2d(x, w3, b, 1, 1), ref.conv2d(x, w3, b, 1, 1, 1, 1, 1), "conv 3x3 pad 1");
        close(fast.conv2d(x, w3, null, 2, 0, 1, 0, 1), ref.conv2d(x, w3, null, 2, 0, 1, 0, 1), "conv stride 2 asymmetric pad");
        close(fast.conv2d(x, w3, b, 2, 1), ref.conv2d(x, w3, b, 2, 1, 1, 1, 1), "conv stride 2 pad 1");
        Tensor w1 = rand(0.3f, 11, 5, 1, 1);
        Tensor b1 = rand(1).broadcastTo(11);
        close(fast.conv2d(x, w1, b1, 1, 0), ref.conv2d(x, w1, b1, 1, 0, 0, 0, 0), "conv 1x1 broadcast bias");
        close(fast.conv2d(x, half(w3, DType.F16), half(b, DType.F16), 1, 1), ref.conv2d(x, half(w3, DType.F16), half(b, DType.F16), 1, 1, 1, 1, 1), "conv f16");
        Tensor xs = rand(1, 37, 9, 6), ws = rand(0.1f, 67, 37, 3, 3), bs = rand(67);
        close(fast.conv2d(xs, ws, bs, 1, 1), ref.conv2d(xs, ws, bs, 1, 1, 1, 1, 1), "conv K > KC");
        close(fast.conv2d(transposedView(xs), ws, bs, 1, 1), ref.conv2d(xs, ws, bs, 1, 1, 1, 1, 1), "conv strided x");
        Tensor xb = rand(1, 3, 70, 71), wb = rand(0.3f, 5, 3, 4, 4);
        close(fast.conv2d(xb, wb, null, 1, 2, 1, 1, 2), ref.conv2d(xb, wb, null, 1, 2, 1, 1, 2), "conv 4x4 asymmetric, N > NC");
        Tensor xo = rand(2, 5, 6, 7), wo = rand(0.3f, Sgemm.SHARED_A_ROWS + 3, 5, 3, 3), bo = rand(Sgemm.SHARED_A_ROWS + 3);
        close(fast.conv2d(xo, wo, bo, 1, 1), ref.conv2d(xo, wo, bo, 1, 1, 1, 1, 1), "conv O > SHARED_A_ROWS, one GEMM per image");
    }

    /**
     * Stride-1 convs on maps whose rows do not fill whole vectors read their patches from shifted copies of x
     * (ConvPatches.shifted): the U-Net's 8x8 and 4x4 levels, a map as wide as the output ("same" padding, one
     * copy per tap), and paddings that make the output narrower or wider than x (row by row), a 1x1 and a 1x3.
     */
    @Test
    void conv2dFromShiftedCopiesMatchesReference() {
        Object[][] cases = {
            {rand(16, 12, 8, 8), rand(0.2f, 20, 12, 3, 3), new int[] {1, 1, 1, 1}},
            {rand(16, 9, 4, 4), rand(0.2f, 13, 9, 3, 3), new int[] {1, 1, 1, 1}},
            {rand(3, 5, 6, 7), rand(0.3f, 7, 5, 3, 3), new int[] {0, 2, 2, 0}},
            {rand(3, 5, 6, 7), rand(0.3f, 7, 5, 3, 3), new int[] {0, 0, 0, 0}},
            {rand(2, 4, 5, 9), rand(0.3f, 6, 4, 3, 3), new int[] {2, 2, 2, 2}},
            {rand(2, 4, 5, 9), rand(0.3f, 6, 4, 2, 4), new int[] {1, 0, 3, 0}},
            {rand(4, 6, 7, 5), rand(0.3f, 5, 6, 1, 1), new int[] {0, 0, 0, 0}},
            {rand(4, 6, 7, 5), rand(0.3f, 5, 6, 1, 3), new int[] {0, 0, 1, 1}},
        };
        for (Object[] c : cases) {
            Tensor x = (Tensor) c[0], w = (Tensor) c[1];
            int[] p = (int[]) c[2];
            Tensor b = rand(w.dim(0));
            close(fast.conv2d(x, w, b, 1, p[0], p[1], p[2], p[3]), ref.conv2d(x, w, b, 1, p[0], p[1], p[2], p[3]),
                    "conv " + Arrays.toString(x.shape()) + " * " + Arrays.toString(w.shape()) + " pads " + Arrays.toString(p));
        }
    }

    /** sum and mean in both layouts of Reduce (a row of consecutive floats, or columns), at sizes past its serial cut-off. */
    @Test
    void sumMatchesReferenceOnLargeRowsAndColumns() {
        Tensor rows = rand(16, 64, 256);   // the bias gradient of a conv: sums over 256 positions
        close(fast.sum(rows, 2), ref.sum(rows, 2), "row sums");
        close(fast.mean(rows, 2), ref.mean(rows, 2), "row means");
        Tensor cols = rand(1037, 131);     // a linear bias gradient: sums over 1037 rows, columns past a vector multiple
        close(fast.sum(cols, 0), ref.sum(cols, 0), "column sums");
        close(fast.mean(cols, 0), ref.mean(cols, 0), "column means");
        Tensor mid = rand(3, 700, 40);
        close(fast.sum(mid, 1), ref.sum(mid, 1), "middle dimension");
        Tensor tiny = rand(5, 3);
        close(fast.sum(tiny, 1), ref.sum(tiny, 1), "tiny rows");
        close(fast.sum(tiny, 0), ref.sum(tiny, 0), "tiny columns");
    }

    // ---- normalizations ----

    @Test
    void groupNormMatchesReferenceWithAndWithoutSilu() {
        Tensor x = rand(3, 12, 7, 5);
        x = fast.add(x, Tensor.of(new float[] {3f}, 1)); // a non-zero mean
        Tensor g = rand(12), b = rand(12);
        for (boolean silu : new boolean[] {false, true}) {
            close(fast.groupNorm(x, 4, g, b, 1e-5f, silu), ref.groupNorm(x, 4, g, b, 1e-5f, silu), "groupNorm silu=" + silu);
        }
        Tensor x1 = rand(1, 32, 13);
        Tensor g1 = half(rand(32), DType.F16), b32 = rand(1).broadcastTo(32);
        close(fast.groupNorm(x1, 32, g1, b32, 1e-6f, true), ref.groupNorm(x1, 32, g1, b32, 1e-6f, true), "groupNorm 1 channel per group");
    }

    @Test
    void normsStayAccurateWhenTheMeanDwarfsTheSpread() {
        Tensor x = fast.add(rand(2, 8, 9, 7), Tensor.of(new float[] {1000f}, 1));
        Tensor g = rand(8), b = rand(8);
        close(fast.groupNorm(x, 2, g, b, 1e-5f, true), ref.groupNorm(x, 2, g, b, 1e-5f, true), "groupNorm mean 1000");
        Tensor y = fast.add(rand(3, 300), Tensor.of(new float[] {-500f}, 1));
        Tensor gy = rand(300), by = rand(300);
        close(fast.layerNorm(y, gy, by, 1e-5f), ref.layerNorm(y, gy, by, 1e-5f), "layerNorm mean -500");
    }

    @Test
    void groupNormWithSharedGammaIsConsistent() {
        Tensor x = rand(2, 6, 11, 3), g = rand(6), b = rand(6);
        close(fast.groupNorm(transposedView(x), 2, g, b, 1e-5f, false), ref.groupNorm(x, 2, g, b, 1e-5f, false), "groupNorm strided input");
    }

    @Test
    void layerNormAndSoftmaxMatchReference() {
        Tensor x = fast.add(rand(3, 7, 53), Tensor.of(new float[] {5f}, 1));
        Tensor g = rand(53), b = rand(53);
        close(fast.layerNorm(x, g, b, 1e-5f), ref.layerNorm(x, g, b, 1e-5f), "layerNorm");
        close(fast.layerNorm(transposedView(x), half(g, DType.BF16), b, 1e-5f), ref.layerNorm(transposedView(x), half(g, DType.BF16), b, 1e-5f), "layerNorm strided");
        Tensor s = rand(8f, 5, 77);
        close(fast.softmax(s), ref.softmax(s), "softmax");
        close(fast.softmax(transposedView(s)), ref.softmax(transposedView(s)), "softmax strided");
        Tensor s1 = rand(2, 3, 1);
        close(fast.softmax(s1), ref.softmax(s1), "softmax width 1");
    }

    // ---- attention ----

    @Test
    void attentionMatchesReferenceForHeadSizesAndKeyLengths() {
        // {2, 16, 16, 4, 32} and {2, 16, 77, 4, 32}: the shapes U-Net's 4x4 level (16 queries, half a query block) against
        // itself and 77 tokens; the last two: several online-softmax steps of Attention.SW keys, the last one partial
        int[][] cases = {{1, 37, 53, 3, 40}, {3, 13, 77, 2, 64}, {2, 70, 131, 1, 80}, {1, 5, 7, 2, 160}, {2, 9, 9, 5, 7}, {1, 1, 1, 1, 1},
                         {2, 16, 16, 4, 32}, {2, 16, 77, 4, 32}, {1, 70, 600, 2, 40}, {1, 300, 300, 1, 48}};
        for (int[] c : cases) {
            int b = c[0], lq = c[1], lk = c[2], h = c[3], d = c[4];
            Tensor q = rand(b, lq, h * d), k = rand(b, lk, h * d), v = rand(b, lk, h * d);
            float scale = (float) (1 / Math.sqrt(d));
            close(fast.attention(q, k, v, h, scale, false), ref.attention(q, k, v, h, scale, false), "attention " + Arrays.toString(c));
            close(fast.attention(q, k, v, h, scale, true), ref.attention(q, k, v, h, scale, true), "causal attention " + Arrays.toString(c));
        }
    }

    @Test
    void attentionAcceptsStridedViewsAndLargeLogits() {
        Tensor q = rand(4f, 2, 19, 24), k = rand(4f, 2, 29, 24), v = rand(2, 29, 24);
        close(fast.attention(transposedView(q), transposedView(k), offsetView(v), 3, 1f, false),
                ref.attention(q, k, v, 3, 1f, false), "attention strided");
    }

    // ---- pointwise ----

    @Test
    void activationsMatchReferenceOverAWideRange() {
        Tensor x = rand(4f, 3, 1001);
        for (Activation act : Activation.values()) {
            close(fast.activation(x, act), ref.activation(x, act), "activation " + act);
            close(fast.activation(transposedView(x), act), ref.activation(transposedView(x), act), "activation strided " + act);
        }
        Tensor gx = rand(3f, 3, 7, 46);
        close(fast.geglu(gx), ref.geglu(gx), "geglu");
        close(fast.geglu(transposedView(gx)), ref.geglu(transposedView(gx)), "geglu strided");
    }

    @Test
    void referenceErfMatchesTabulatedValues() {
        // Abramowitz and Stegun table 7.1
        assertEquals(0.5204998778, CpuReference.erf(0.5), 1e-10);
        assertEquals(0.8427007929, CpuReference.erf(1.0), 1e-10);
        assertEquals(0.9953222650, CpuReference.erf(2.0), 1e-10);
        assertEquals(-0.9999779095, CpuReference.erf(-3.0), 1e-10);
        assertEquals(1.1283791633e-4, CpuReference.erf(1e-4), 1e-13); // 2/sqrt(pi) (x - x^3/3)
    }

    @Test
    void binaryOpsBroadcastLikeNumpy() {
        Tensor[][] pairs = {
            {rand(3, 5, 7, 11), rand(5, 1, 1)},
            {rand(3, 1, 7), rand(4, 1)},
            {rand(2, 3), rand(2, 3)},
            {transposedView(rand(4, 6)), offsetView(rand(4, 6))},
            {rand(1), rand(3, 2)},
            {rand(2, 5, 4), half(rand(4), DType.F16)},
        };
        for (Tensor[] p : pairs) {
            close(fast.add(p[0], p[1]), ref.add(p[0], p[1]), "add");
            close(fast.sub(p[0], p[1]), ref.sub(p[0], p[1]), "sub");
            close(fast.mul(p[0], p[1]), ref.mul(p[0], p[1]), "mul");
            close(fast.sub(p[1], p[0]), ref.sub(p[1], p[0]), "sub swapped");
        }
        assertThrows(IllegalArgumentException.class, () -> fast.add(rand(2, 3), rand(4)));
    }

    @Test
    void unaryShapeOpsMatchReference() {
        Tensor x = rand(3, 5, 7, 6);
        close(fast.scale(x, 0.18215f), ref.scale(x, 0.18215f), "scale");
        close(fast.clamp(x, -0.5f, 0.7f), ref.clamp(x, -0.5f, 0.7f), "clamp");
        close(fast.upsampleNearest2x(x), ref.upsampleNearest2x(x), "upsample");
        close(fast.upsampleNearest2x(transposedView(x)), ref.upsampleNearest2x(transposedView(x)), "upsample strided");
        Tensor y = rand(3, 2, 7, 6);
        close(fast.concat(1, x, y, transposedView(y)), ref.concat(1, x, y, transposedView(y)), "concat dim 1");
        Tensor c3 = rand(2, 3), c5 = rand(2, 5);
        close(fast.concat(-1, c3, c5), ref.concat(-1, c3, c5), "concat last");
        close(fast.concat(0, x, x), ref.concat(0, x, x), "concat dim 0");
        for (int d = 0; d < 4; d++) {
            close(fast.sum(x, d), ref.sum(x, d), "sum " + d);
            close(fast.mean(transposedView(x), d - 4), ref.mean(transposedView(x), d - 4), "mean " + d);
        }
    }

    @Test
    void timestepEmbeddingAndEmbeddingMatchReference() {
        float[] ts = {981f, 1f, 0f, 500.5f};
        for (int dim : new int[] {320, 7, 2}) {
            for (boolean flip : new boolean[] {true, false}) {
                if (dim > 2) { // dim 2 with shift 1 divides 0 by 0, as diffusers does
                    close(fast.timestepEmbedding(ts, dim, flip, 1f), ref.timestepEmbedding(ts, dim, flip, 1f), "timestep " + dim + " " + flip);
                }
                close(fast.timestepEmbedding(ts, dim, flip, 0f), ref.timestepEmbedding(ts, dim, flip, 0f), "timestep shift 0");
            }
        }
        // diffusers: t = 0 gives sin 0 = 0 and cos 0 = 1; flip puts cos first
        Tensor e = fast.timestepEmbedding(new float[] {0f}, 4, true, 1f);
        assertArrayEquals(new float[] {1f, 1f, 0f, 0f}, e.toFloatArray());
        Tensor table = rand(11, 13);
        int[] ids = {0, 10, 3, 3};
        for (Tensor t : new Tensor[] {table, half(table, DType.F16), transposedView(table)}) {
            close(fast.embedding(t, ids), ref.embedding(t, ids), "embedding " + t.dtype());
        }
        IllegalArgumentException err = assertThrows(IllegalArgumentException.class, () -> fast.embedding(table, new int[] {11}));
        assertTrue(err.getMessage().contains("11"), err.getMessage());
    }

    @Test
    void hostCopiesAreDenseF32() {
        Tensor t = half(rand(3, 4), DType.F16);
        Tensor h = fast.toHost(t);
        assertEquals(DType.F32, h.dtype());
        assertArrayEquals(t.toFloatArray(), h.data());
        Tensor v = transposedView(rand(5, 3));
        assertArrayEquals(v.toFloatArray(), fast.contiguous(v).data());
        Tensor dense = rand(2, 2);
        assertTrue(fast.contiguous(dense) == dense);
        assertTrue(fast.toDevice(t) == t);
    }

    @Test
    void badShapesGiveOneLineErrors() {
        var e1 = assertThrows(IllegalArgumentException.class, () -> fast.linear(rand(2, 5), rand(3, 4), null, Activation.NONE));
        assertTrue(e1.getMessage().startsWith("linear:"), e1.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> fast.conv2d(rand(1, 3, 5, 5), rand(2, 4, 3, 3), null, 1, 1));
        assertTrue(e2.getMessage().startsWith("conv2d:"), e2.getMessage());
        assertThrows(IllegalArgumentException.class, () -> fast.attention(rand(1, 2, 6), rand(1, 3, 6), rand(1, 3, 6), 4, 1f, false));
        assertThrows(IllegalArgumentException.class, () -> fast.groupNorm(rand(1, 6, 2), 4, rand(6), rand(6), 1e-5f, false));
        assertThrows(IllegalArgumentException.class, () -> fast.matmul(rand(2, 3), rand(4, 2)));
        assertThrows(IllegalArgumentException.class, () -> fast.concat(0, rand(2, 3), rand(2, 4)));
        assertFalseMultiline(e1.getMessage());
    }

    private static void assertFalseMultiline(String s) {
        assertTrue(!s.contains("\n"), "one-line message: " + s);
    }

    @Test
    void serviceLoaderFindsTheCpuBackend() {
        assertInstanceOf(CpuBackend.class, Backends.create("cpu"));
    }
}
