// Checks the conv2d gradients (conv2dBackwardInput, conv2dBackwardWeight) of the fast CPU backend and of its scalar
// twin: (a) both against float64 central finite differences of L = sum(conv2d(x, w, b) * r), computed with the
// test's own double-precision conv, relative L2 error <= 1e-4; (b) fast against twin, relative <= 1e-5, on larger
// shapes, on the blocking edges of both GEMM paths and on strided, offset and F16 inputs. Odd shapes throughout:
// 3x3 at stride 1 and 2 with symmetric and (0, 1, 0, 1) pads, 1x1, pads larger than the kernel, non-square kernels.
// Run with -Dldm4j.test.verbose=true to print every measured error.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConvBackwardTest {
    static final double FD_TOL = 1e-4;
    static final double TWIN_TOL = 1e-5;
    static final boolean VERBOSE = Boolean.getBoolean("ldm4j.test.verbose");
    final CpuBackend fast = new CpuBackend();
    final CpuReference ref = new CpuReference();
    final Random rng = new Random(20261202);

    /** One conv2d configuration: batch, channels in and out, image size, kernel, stride, pads (top, bottom, left, right). */
    record Case(String name, int n, int c, int o, int h, int w, int kh, int kw, int stride, int pt, int pb, int pl, int pr) {
        int oh() {
            return (h + pt + pb - kh) / stride + 1;
        }

        int ow() {
            return (w + pl + pr - kw) / stride + 1;
        }
    }

    static final Case[] SMALL = {
        new Case("3x3 s1 pad 1", 2, 3, 4, 7, 9, 3, 3, 1, 1, 1, 1, 1),
        new Case("3x3 s2 pad (0,1,0,1)", 2, 5, 7, 7, 9, 3, 3, 2, 0, 1, 0, 1),
        new Case("3x3 s2 pad 1", 2, 5, 4, 7, 9, 3, 3, 2, 1, 1, 1, 1),
        new Case("3x3 s2 pad 0, last column unread", 2, 3, 4, 7, 10, 3, 3, 2, 0, 0, 0, 0),
        new Case("1x1 s1", 2, 5, 7, 7, 9, 1, 1, 1, 0, 0, 0, 0),
        new Case("1x1 s2", 2, 3, 4, 7, 9, 1, 1, 2, 0, 0, 0, 0),
        new Case("1x1 s1 pad 1 (pad > kernel - 1)", 2, 3, 4, 7, 9, 1, 1, 1, 1, 1, 1, 1),
        new Case("3x3 s1 pad (3,0,1,2)", 1, 5, 4, 7, 9, 3, 3, 1, 3, 0, 1, 2),
        new Case("3x2 s1 pad (2,0,0,1)", 2, 3, 4, 7, 9, 3, 2, 1, 2, 0, 0, 1),
        new Case("4x4 s3 pad (1,2,2,0)", 2, 3, 4, 8, 9, 4, 4, 3, 1, 2, 2, 0),
    };

    Tensor rand(float amp, int... shape) {
        float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (rng.nextGaussian() * amp);
        }
        return Tensor.of(a, shape);
    }

    static double relErr(Tensor out, double[] expected) {
        float[] o = out.toFloatArray();
        assertEquals(expected.length, o.length, "element count");
        double num = 0, den = 0;
        for (int i = 0; i < o.length; i++) {
            num += (o[i] - expected[i]) * (o[i] - expected[i]);
            den += expected[i] * expected[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    static double[] doubles(Tensor t) {
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    static void check(double err, double tol, String what) {
        if (VERBOSE) {
            System.out.printf("%-60s relative error %.3e%n", what, err);
        }
        assertTrue(err <= tol, what + ": relative error " + err + " > " + tol);
    }

    // ---- (a) finite differences in double ----

    /** L = sum over n, o, oy, ox of r * (b[o] + sum over c, ky, kx of x w), all in double. */
    static double loss(Case k, double[] x, double[] w, double[] b, double[] r) {
        int oh = k.oh(), ow = k.ow();
        double l = 0;
        for (int img = 0; img < k.n(); img++) {
            for (int oc = 0; oc < k.o(); oc++) {
                for (int oy = 0; oy < oh; oy++) {
                    for (int ox = 0; ox < ow; ox++) {
                        double s = b[oc];
                        for (int ci = 0; ci < k.c(); ci++) {
                            for (int ky = 0; ky < k.kh(); ky++) {
                                int iy = oy * k.stride() - k.pt() + ky;
                                if (iy < 0 || iy >= k.h()) {
                                    continue;
                                }
                                for (int kx = 0; kx < k.kw(); kx++) {
                                    int ix = ox * k.stride() - k.pl() + kx;
                                    if (ix >= 0 && ix < k.w()) {
                                        s += x[((img * k.c() + ci) * k.h() + iy) * k.w() + ix] * w[((oc * k.c() + ci) * k.kh() + ky) * k.kw() + kx];
                                    }
                                }
                            }
                        }
                        l += r[((img * k.o() + oc) * oh + oy) * ow + ox] * s;
                    }
                }
            }
        }
        return l;
    }

    /** dL/dv by central differences, perturbing each element of v in turn (L is bilinear, so h need not be small). */
    static double[] centralDifferences(double[] v, java.util.function.DoubleSupplier l) {
        double h = 1e-2;
        double[] g = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            double keep = v[i];
            v[i] = keep + h;
            double up = l.getAsDouble();
            v[i] = keep - h;
            double down = l.getAsDouble();
            v[i] = keep;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    @Test
    void gradientsMatchFloat64FiniteDifferences() {
        for (Case k : SMALL) {
            Tensor x = rand(1f, k.n(), k.c(), k.h(), k.w());
            Tensor w = rand(0.3f, k.o(), k.c(), k.kh(), k.kw());
            Tensor b = rand(1f, k.o());
            Tensor r = rand(1f, k.n(), k.o(), k.oh(), k.ow());
            double[] xd = doubles(x), wd = doubles(w), bd = doubles(b), rd = doubles(r);
            double[] dx = centralDifferences(xd, () -> loss(k, xd, wd, bd, rd));
            double[] dw = centralDifferences(wd, () -> loss(k, xd, wd, bd, rd));
            for (Backend be : new Backend[] {fast, ref}) {
                Tensor gx = be.conv2dBackwardInput(r, w, k.h(), k.w(), k.stride(), k.pt(), k.pb(), k.pl(), k.pr());
                Tensor gw = be.conv2dBackwardWeight(x, r, k.kh(), k.kw(), k.stride(), k.pt(), k.pb(), k.pl(), k.pr());
                assertEquals(java.util.List.of(k.n(), k.c(), k.h(), k.w()), java.util.List.of(gx.dim(0), gx.dim(1), gx.dim(2), gx.dim(3)));
                assertEquals(java.util.List.of(k.o(), k.c(), k.kh(), k.kw()), java.util.List.of(gw.dim(0), gw.dim(1), gw.dim(2), gw.dim(3)));
                check(relErr(gx, dx), FD_TOL, be.name() + " dx vs FD, " + k.name());
                check(relErr(gw, dw), FD_TOL, be.name() + " dw vs FD, " + k.name());
            }
        }
    }

    @Test
    void inputGradientIsZeroWhereTheForwardNeverReads() {
        // 3x3, stride 2, no padding on 7x10: input column 9 is read by no output
        Tensor dy = rand(1f, 2, 4, 3, 4), w = rand(0.3f, 4, 3, 3, 3);
        Tensor dx = fast.conv2dBackwardInput(dy, w, 7, 10, 2, 0, 0, 0, 0);
        for (int img = 0; img < 2; img++) {
            for (int ci = 0; ci < 3; ci++) {
                for (int iy = 0; iy < 7; iy++) {
                    assertEquals(0f, dx.getFloat(img, ci, iy, 9));
                }
            }
        }
    }

    // ---- (b) fast against the scalar twin ----

    void twin(Case k, String how, Tensor x, Tensor w, Tensor dy) {
        close(fast.conv2dBackwardInput(dy, w, k.h(), k.w(), k.stride(), k.pt(), k.pb(), k.pl(), k.pr()),
                ref.conv2dBackwardInput(dy, w, k.h(), k.w(), k.stride(), k.pt(), k.pb(), k.pl(), k.pr()), "dx " + k.name() + how);
        close(fast.conv2dBackwardWeight(x, dy, k.kh(), k.kw(), k.stride(), k.pt(), k.pb(), k.pl(), k.pr()),
                ref.conv2dBackwardWeight(x, dy, k.kh(), k.kw(), k.stride(), k.pt(), k.pb(), k.pl(), k.pr()), "dw " + k.name() + how);
    }

    void twin(Case k) {
        Tensor x = rand(1f, k.n(), k.c(), k.h(), k.w());
        Tensor w = rand(0.3f, k.o(), k.c(), k.kh(), k.kw());
        Tensor dy = rand(1f, k.n(), k.o(), k.oh(), k.ow());
        twin(k, "", x, w, dy);
    }

    static void close(Tensor out, Tensor expected, String what) {
        check(relErr(out, doubles(expected)), TWIN_TOL, "fast vs twin " + what);
        assertTrue(out.isContiguous() && out.offset() == 0, what + ": result must be dense");
        assertEquals(java.util.Arrays.toString(expected.shape()), java.util.Arrays.toString(out.shape()), what + ": shape");
    }

    @Test
    void fastMatchesTwinOnSmallOddShapes() {
        for (Case k : SMALL) {
            twin(k);
        }
    }

    @Test
    void fastMatchesTwinOnALargerShape() {
        for (Case k : new Case[] {
            new Case("2x32x16x12 -> 48 3x3 s1 pad 1", 2, 32, 48, 16, 12, 3, 3, 1, 1, 1, 1, 1),
            new Case("2x32x16x12 -> 48 3x3 s2 pad (0,1,0,1)", 2, 32, 48, 16, 12, 3, 3, 2, 0, 1, 0, 1),
            new Case("2x32x16x12 -> 48 3x3 s2 pad 1", 2, 32, 48, 16, 12, 3, 3, 2, 1, 1, 1, 1),
            new Case("2x32x16x12 -> 48 1x1", 2, 32, 48, 16, 12, 1, 1, 1, 0, 0, 0, 0),
        }) {
            twin(k);
        }
    }

    @Test
    void fastMatchesTwinAcrossGemmBlockEdges() {
        for (Case k : new Case[] {
            // K = C*9 = 1620 > NC: two column blocks of dw
            new Case("C*9 > NC", 2, 180, 9, 6, 5, 3, 3, 1, 1, 1, 1, 1),
            // N*P = 1200 > KC: the batch sum splits into K blocks that end inside an image
            new Case("N*P > KC", 3, 8, 5, 20, 20, 3, 3, 1, 1, 1, 1, 1),
            // O = 600 > KC: the input gradient's GEMM sums over two K blocks
            new Case("O > KC", 1, 3, 600, 5, 6, 3, 3, 2, 1, 1, 1, 1),
            // stride 2 with Ho*Wo = 2250 > NC: the col2im path takes its output rows in two blocks
            new Case("Ho*Wo > NC, stride 2", 1, 3, 5, 100, 90, 3, 3, 2, 1, 1, 1, 1),
            // many channels at stride 2: several channel blocks per image
            new Case("C = 67 stride 2", 2, 67, 11, 9, 8, 3, 3, 2, 0, 1, 0, 1),
            new Case("1 image 1 channel", 1, 1, 1, 5, 4, 3, 3, 2, 1, 1, 1, 1),
        }) {
            twin(k);
        }
    }

    @Test
    void fastAcceptsStridedOffsetAndHalfInputs() {
        Case k = new Case("3x3 s2 pad 1", 2, 5, 6, 9, 7, 3, 3, 2, 1, 1, 1, 1);
        Tensor x = rand(1f, k.n(), k.c(), k.h(), k.w());
        Tensor w = rand(0.3f, k.o(), k.c(), k.kh(), k.kw());
        Tensor dy = rand(1f, k.n(), k.o(), k.oh(), k.ow());
        twin(k, ", transposed views", CpuBackendTest.transposedView(x), CpuBackendTest.transposedView(w), CpuBackendTest.transposedView(dy));
        twin(k, ", F16 weight", x, CpuBackendTest.half(w, DType.F16), dy);
        Case s1 = new Case("3x3 s1 pad 1", 2, 5, 6, 9, 7, 3, 3, 1, 1, 1, 1, 1);
        Tensor dy1 = rand(1f, 2, 6, 9, 7);
        twin(s1, ", BF16 weight, transposed dy", x, CpuBackendTest.half(w, DType.BF16), CpuBackendTest.transposedView(dy1));
    }

    @Test
    void badShapesGiveOneLineErrors() {
        Tensor dy = rand(1f, 2, 4, 3, 4), w = rand(1f, 4, 3, 3, 3), x = rand(1f, 2, 3, 7, 9);
        var e1 = assertThrows(IllegalArgumentException.class, () -> fast.conv2dBackwardInput(dy, w, 7, 9, 1, 1, 1, 1, 1));
        assertTrue(e1.getMessage().startsWith("conv2dBackwardInput:") && !e1.getMessage().contains("\n"), e1.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> fast.conv2dBackwardInput(dy, rand(1f, 5, 3, 3, 3), 7, 9, 2, 0, 1, 0, 1));
        assertTrue(e2.getMessage().startsWith("conv2dBackwardInput:"), e2.getMessage());
        var e3 = assertThrows(IllegalArgumentException.class, () -> fast.conv2dBackwardWeight(x, dy, 3, 3, 1, 1, 1, 1, 1));
        assertTrue(e3.getMessage().startsWith("conv2dBackwardWeight:") && !e3.getMessage().contains("\n"), e3.getMessage());
        var e4 = assertThrows(IllegalArgumentException.class, () -> fast.conv2dBackwardWeight(rand(1f, 1, 3, 7, 9), dy, 3, 3, 2, 0, 1, 0, 1));
        assertTrue(e4.getMessage().startsWith("conv2dBackwardWeight:"), e4.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ref.conv2dBackwardWeight(x, dy, 3, 3, 0, 1, 1, 1, 1));
    }
}
