// Winograd F(4x4, 3x3) against the scalar twin's direct convolution (CpuReference, float64 sums), on every
// (input, output) channel pair of SD 1.5's stride-1 3x3 convolutions (U-Net and VAE) that Winograd takes, at a small
// map with partial 4x4 blocks on both edges, and on the edge cases of the tiling: odd sizes, asymmetric and large
// padding, a batch, chunks of one row of blocks, bias and residual. Also that CpuBackend's conv2d and conv2dAdd route
// large maps to it and small ones not.
// The error bound. Float32 direct convolution (Sgemm) is within 3.2e-7 to 3.9e-7 relative L2 of the float64 sum on
// the SD 1.5 pairs below (printed beside Winograd's with -Dldm4j.test.verbose=true); Winograd's
// transforms scale values by up to 8 (A^T) and 1/24 (G) and subtract nearly equal terms, so its rounding error is
// larger: measured here (run with -Dldm4j.test.verbose=true) at most 3.9e-6 relative L2 (growing slowly with the input
// channels: 2e-6 at 128, 3.9e-6 at 2560) and at most 1.8e-5 of the largest output, over all shapes below. The test
// allows 1e-5 and 5e-5, about 2.5x the largest measured.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WinogradTest {
    static final double REL_L2 = 1e-5;
    static final double REL_MAX = 5e-5;
    static final boolean VERBOSE = Boolean.getBoolean("ldm4j.test.verbose");
    final CpuReference ref = new CpuReference();
    final Random rng = new Random(20261203);

    /** SD 1.5's stride-1 3x3 convolutions with at least Winograd.MIN_CHANNELS in and out: (C, O). */
    static final int[][] SD15 = {
        // U-Net resnets and upsamplers
        {320, 320}, {320, 640}, {640, 640}, {640, 1280}, {1280, 1280}, {2560, 1280}, {1920, 1280}, {1920, 640},
        {1280, 640}, {960, 640}, {960, 320}, {640, 320},
        // VAE encoder and decoder
        {128, 128}, {128, 256}, {256, 256}, {256, 512}, {512, 512}, {512, 256}, {256, 128},
    };

    Tensor rand(double amp, int... shape) {
        float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (rng.nextGaussian() * amp);
        }
        return Tensor.of(a, shape);
    }

    /** Winograd's conv2d(x, w, bias, pads) + residual with chunks of about chunkFloats. */
    static Tensor winograd(Tensor x, Tensor w, Tensor bias, int pt, int pb, int pl, int pr, Tensor residual, long chunkFloats) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), o = w.dim(0);
        ConvBackward.Dims d = new ConvBackward.Dims(n, c, h, wd, o, 3, 3, h + pt + pb - 2, wd + pl + pr - 2);
        return Winograd.forward(x.toFloatArray(), 0, w, bias == null ? null : bias.toFloatArray(), d, pt, pl, residual, chunkFloats);
    }

    void check(String name, Tensor got, Tensor expected) {
        float[] g = got.toFloatArray(), e = expected.toFloatArray();
        assertTrue(java.util.Arrays.equals(got.shape(), expected.shape()), name + ": shape");
        double num = 0, den = 0, maxErr = 0, maxRef = 0;
        for (int i = 0; i < g.length; i++) {
            double diff = g[i] - (double) e[i];
            num += diff * diff;
            den += (double) e[i] * e[i];
            maxErr = Math.max(maxErr, Math.abs(diff));
            maxRef = Math.max(maxRef, Math.abs(e[i]));
        }
        double rel = Math.sqrt(num / den), relMax = maxErr / maxRef;
        if (VERBOSE) {
            System.out.printf("%-40s rel L2 %.2e  max |err| / max |ref| %.2e%n", name, rel, relMax);
        }
        assertTrue(rel <= REL_L2, name + ": relative L2 error " + rel + " > " + REL_L2);
        assertTrue(relMax <= REL_MAX, name + ": max error / max output " + relMax + " > " + REL_MAX);
    }

    @Test
    void everySd15ChannelPairMatchesDirectConvolution() {
        for (int[] co : SD15) {
            int c = co[0], o = co[1];
            // outputs 5 x 6: two rows and two columns of 4x4 blocks, the second of each partial
            Tensor x = rand(1.0, 1, c, 5, 6);
            Tensor w = rand(1.0 / Math.sqrt(9.0 * c), o, c, 3, 3);
            Tensor b = rand(0.1, o);
            Tensor expected = ref.conv2d(x, w, b, 1, 1, 1, 1, 1);
            check("SD 1.5 " + c + " -> " + o, winograd(x, w, b, 1, 1, 1, 1, null, 1L << 22), expected);
            if (VERBOSE) {
                // for comparison: direct convolution (what CpuBackend runs on a map this small), same inputs
                check("  direct " + c + " -> " + o, new CpuBackend().conv2d(x, w, b, 1, 1), expected);
            }
        }
    }

    @Test
    void tilingEdgesMatchDirectConvolution() {
        // size, pads (top, bottom, left, right), batch
        int[][] cases = {
            {1, 1, 1, 1, 1, 1}, {4, 4, 1, 1, 1, 1}, {9, 13, 1, 1, 1, 1}, {9, 13, 0, 0, 0, 0}, {8, 37, 1, 1, 1, 1},
            {7, 11, 2, 1, 0, 3}, {6, 6, 3, 3, 3, 3}, {17, 5, 0, 2, 1, 0},
        };
        for (int[] k : cases) {
            int h = k[0], wd = k[1];
            for (int n : new int[] {1, 3}) {
                Tensor x = rand(1.0, n, 40, h, wd);
                Tensor w = rand(0.05, 36, 40, 3, 3);
                Tensor b = rand(0.1, 36);
                Tensor expected = ref.conv2d(x, w, b, 1, k[2], k[3], k[4], k[5]);
                String name = "n " + n + " " + h + "x" + wd + " pads " + k[2] + "," + k[3] + "," + k[4] + "," + k[5];
                check(name, winograd(x, w, b, k[2], k[3], k[4], k[5], null, 1L << 22), expected);
                // chunks of one row of blocks
                check(name + " chunked", winograd(x, w, b, k[2], k[3], k[4], k[5], null, 1), expected);
            }
        }
    }

    @Test
    void residualIsAddedAndBiasIsOptional() {
        Tensor x = rand(1.0, 2, 48, 10, 9);
        Tensor w = rand(0.05, 33, 48, 3, 3);
        Tensor residual = rand(1.0, 2, 33, 10, 9);
        Tensor expected = ref.add(ref.conv2d(x, w, null, 1, 1, 1, 1, 1), residual);
        check("no bias, residual", winograd(x, w, null, 1, 1, 1, 1, residual, 1L << 22), expected);
    }

    @Test
    void backendRoutesLargeMapsToWinogradAndStaysExact() {
        CpuBackend fast = new CpuBackend();
        ConvBackward.Dims large = new ConvBackward.Dims(1, 128, 64, 64, 128, 3, 3, 64, 64);
        assertTrue(Winograd.applies(large, 1), "a 64x64 map with 128 channels runs as Winograd");
        assertFalse(Winograd.applies(large, 2), "stride 2 runs directly");
        assertFalse(Winograd.applies(new ConvBackward.Dims(2, 640, 32, 32, 640, 3, 3, 32, 32), 1), "a 32x32 map runs directly");
        assertFalse(Winograd.applies(new ConvBackward.Dims(16, 64, 16, 16, 64, 3, 3, 16, 16), 1), "a training batch of 16x16 maps runs directly");
        assertFalse(Winograd.applies(new ConvBackward.Dims(1, 4, 64, 64, 320, 3, 3, 64, 64), 1), "4 input channels run directly");
        assertFalse(Winograd.applies(new ConvBackward.Dims(1, 320, 64, 64, 4, 3, 3, 64, 64), 1), "4 output channels run directly");
        assertFalse(Winograd.applies(new ConvBackward.Dims(1, 128, 64, 64, 128, 1, 1, 64, 64), 1), "1x1 runs directly");
        Tensor x = rand(1.0, 1, 128, 64, 64);
        Tensor w = rand(0.03, 128, 128, 3, 3);
        Tensor b = rand(0.1, 128);
        Tensor residual = rand(1.0, 1, 128, 64, 64);
        Tensor direct = ref.conv2d(x, w, b, 1, 1, 1, 1, 1);
        Tensor got = fast.conv2d(x, w, b, 1, 1);
        check("CpuBackend.conv2d 128x64x64", got, direct);
        // routed, not only close: bit for bit what Winograd itself gives (direct convolution rounds differently)
        assertArrayEquals(winograd(x, w, b, 1, 1, 1, 1, null, 1L << 22).toFloatArray(), got.toFloatArray(), "conv2d runs Winograd");
        Tensor gotAdd = fast.conv2dAdd(x, w, b, 1, 1, 1, 1, 1, residual);
        check("CpuBackend.conv2dAdd 128x64x64", gotAdd, ref.add(direct, residual));
        assertArrayEquals(winograd(x, w, b, 1, 1, 1, 1, residual, 1L << 22).toFloatArray(), gotAdd.toFloatArray(),
                "conv2dAdd runs Winograd with the residual fused");
        // F16 weights (a loaded checkpoint) widen in the weight transform
        Tensor w16 = CpuBackendTest.half(w, dev.ldm4j.tensor.DType.F16);
        check("CpuBackend.conv2d F16 weights", fast.conv2d(x, w16, b, 1, 1), ref.conv2d(x, w16, b, 1, 1, 1, 1, 1));
    }

    @Test
    void aBroadcastResidualIsAddedAfterwardsAndABadOneRefusedByName() {
        CpuBackend fast = new CpuBackend();
        Tensor x = rand(1.0, 2, 128, 64, 64);
        Tensor w = rand(0.03, 128, 128, 3, 3);
        Tensor temb = rand(1.0, 2, 128, 1, 1);
        check("conv2dAdd with a [2, 128, 1, 1] residual", fast.conv2dAdd(x, w, null, 1, 1, 1, 1, 1, temb),
                fast.add(ref.conv2d(x, w, null, 1, 1, 1, 1, 1), temb));
        Tensor small = rand(1.0, 1, 8, 10, 10);
        Tensor w8 = rand(0.04, 6, 8, 3, 3);
        // a residual of the result's shape on a map that runs directly: added in place after the GEMM
        Tensor same = rand(1.0, 1, 6, 10, 10);
        check("direct conv2dAdd, same-shape residual", fast.conv2dAdd(small, w8, null, 1, 1, 1, 1, 1, same),
                ref.add(ref.conv2d(small, w8, null, 1, 1, 1, 1, 1), same));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> fast.conv2dAdd(small, w8, null, 1, 1, 1, 1, 1, rand(1.0, 1, 6, 10, 9)));
        assertTrue(e.getMessage().contains("[1, 6, 10, 10]") && e.getMessage().contains("[1, 6, 10, 9]"), e.getMessage());
    }
}
