// 2-D convolution (cross-correlation, zero padding) as GEMM: out [O, OH*OW] = W [O, C*kh*kw] x
// col [C*kh*kw, OH*OW] per image; the im2col matrix is never built. With few output channels
// (O <= Sgemm.SHARED_A_ROWS) and a small input (the training sizes, where one image's product is a
// few megaFLOP) the whole batch is one GEMM whose columns run over every position of every image,
// [O, K] x [K, N*OH*OW], its panels loaded from a padded copy of x (ConvPatches: the stride-phase
// planes; at stride 1 on maps narrower than a vector's multiple, one copy per horizontal tap, so that a
// panel's positions are consecutive floats) and written straight into [N, O, OH*OW]. Otherwise each image is a GEMM of its own, its
// panels packed straight from the image (a 1x1, stride-1, unpadded conv multiplies by the image itself).
// Stride-1 3x3 convolutions on large maps with enough channels go to Winograd F(4x4, 3x3) instead (Winograd.applies).
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.Tensor;

final class Conv2d {
    /** Phase-plane floats up to which the batch runs as one GEMM: a copy of at most 16 MB beside x (a VAE decoder's 512x512 input stays per image). */
    private static final long BATCHED_MAX_FLOATS = 1L << 22;

    private Conv2d() {
    }

    static Tensor forward(Tensor x, Tensor w, Tensor bias, int stride, int pt, int pb, int pl, int pr) {
        return forward(x, w, bias, stride, pt, pb, pl, pr, null);
    }

    /** Whether residual has the exact shape of conv2d(x, w) with these strides and pads (forward can then add it as it writes). */
    static boolean fits(Tensor x, Tensor w, int stride, int pt, int pb, int pl, int pr, Tensor residual) {
        if (x.rank() != 4 || w.rank() != 4 || residual.rank() != 4 || stride < 1) {
            return false;
        }
        int oh = (x.dim(2) + pt + pb - w.dim(2)) / stride + 1, ow = (x.dim(3) + pl + pr - w.dim(3)) / stride + 1;
        return residual.dim(0) == x.dim(0) && residual.dim(1) == w.dim(0) && residual.dim(2) == oh && residual.dim(3) == ow;
    }

    /** conv2d + residual, the residual shaped like the result (null: none); Winograd adds it as it writes each block. */
    static Tensor forward(Tensor x, Tensor w, Tensor bias, int stride, int pt, int pb, int pl, int pr, Tensor residual) {
        String op = residual == null ? "conv2d" : "conv2dAdd";
        Shapes.requireRank(op, "x", x, 4);
        Shapes.requireRank(op, "w", w, 4);
        if (stride < 1 || pt < 0 || pb < 0 || pl < 0 || pr < 0) {
            throw Shapes.bad(op, "stride " + stride + " must be >= 1 and padding (" + pt + ", " + pb + ", " + pl + ", " + pr + ") >= 0");
        }
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int o = w.dim(0), kh = w.dim(2), kw = w.dim(3);
        if (w.dim(1) != c) {
            throw Shapes.bad(op, "weight " + Shapes.s(w) + " expects " + w.dim(1) + " input channels, x " + Shapes.s(x) + " has " + c);
        }
        Shapes.requireVector(op, "bias", bias, o);
        int oh = Shapes.convOut(op, h, kh, stride, pt, pb);
        int ow = Shapes.convOut(op, wd, kw, stride, pl, pr);
        if (residual != null && !java.util.Arrays.equals(residual.shape(), new int[] {n, o, oh, ow})) {
            throw Shapes.bad(op, "residual " + Shapes.s(residual) + " must be shaped like the result [" + n + ", " + o + ", " + oh + ", " + ow + "]");
        }
        Views.Flat xf = Views.flat(x);
        ConvBackward.Dims d = new ConvBackward.Dims(n, c, h, wd, o, kh, kw, oh, ow);
        float[] b = bias == null ? null : Views.copy(bias);
        if (Winograd.applies(d, stride)) {
            return Winograd.forward(xf.a(), xf.off(), w, b, d, pt, pl, residual);
        }
        float[] out = direct(xf, w, b, stride, pt, pl, d);
        if (residual != null) {
            Views.Flat r = Views.flat(residual);
            for (int i = 0; i < out.length; i++) {
                out[i] += r.a()[r.off() + i];
            }
        }
        return Tensor.of(out, n, o, oh, ow);
    }

    /** The convolution as GEMMs over the implicit im2col matrix: [N, O, Ho, Wo] as a dense array. */
    private static float[] direct(Views.Flat xf, Tensor w, float[] bias, int stride, int pt, int pl, ConvBackward.Dims d) {
        int n = d.n(), c = d.c(), h = d.h(), wd = d.w(), o = d.o(), kh = d.kh(), kw = d.kw(), oh = d.oh(), ow = d.ow();
        int p = oh * ow;
        int kdim = c * kh * kw;
        float[] out = new float[Math.toIntExact((long) n * o * p)];
        Tensor wd2 = w.isContiguous() ? w : Views.dense(w);
        Sgemm.PackA pa = Sgemm.packA(new Sgemm.Operand(wd2.storage(), wd2.offset(), kdim, 1));
        Sgemm.Epilogue ep = bias == null ? Sgemm.Epilogue.NONE : new Sgemm.Epilogue(bias, null, dev.ldm4j.tensor.Activation.NONE);
        if (o <= Sgemm.SHARED_A_ROWS && ConvPatches.phaseFloats(d, stride) <= BATCHED_MAX_FLOATS) {
            // at stride 1 and rows that do not fill whole vectors (8x8, 4x4 maps), the shifted copies (kw of them) where
            // they fit: a panel's taps are then plain vector loads instead of gathers
            ConvPatches.Phases planes = stride == 1 && ow % Sgemm.L != 0 && ConvPatches.shiftedFloats(d) <= BATCHED_MAX_FLOATS
                    ? ConvPatches.shifted(xf.a(), xf.off(), d, pt, pl)
                    : ConvPatches.phases(xf.a(), xf.off(), d, stride, pt, pl);
            Sgemm.PackB patches = ConvPatches.patches(planes, d);
            Sgemm.gemmShared(o, n * p, kdim, pa, patches, new Sgemm.Out(out, 0, p, p, o * p), ep);
            return out;
        }
        boolean pointwise = kh == 1 && kw == 1 && stride == 1 && pt == 0 && d.oh() == h && d.ow() == wd && pl == 0;
        for (int img = 0; img < n; img++) {
            int xOff = xf.off() + img * c * h * wd;
            Sgemm.PackB pbk = pointwise
                    ? Sgemm.packB(new Sgemm.Operand(new FloatStorage(xf.a()), xOff, p, 1))
                    : im2col(xf.a(), xOff, c, h, wd, kh, kw, stride, pt, pl, oh, ow);
            Sgemm.gemm(o, p, kdim, pa, pbk, out, img * o * p, p, ep);
        }
        return out;
    }

    /**
     * Packs panels of the implicit im2col matrix: row k = (ci, ky, kx), column q = (oy, ox), value
     * x[ci, oy * stride - pt + ky, ox * stride - pl + kx] or 0 in the padding. Along one output row
     * and stride 1 the values are a contiguous run of the input row, copied as such.
     */
    static Sgemm.PackB im2col(float[] x, int xOff, int c, int h, int w, int kh, int kw, int stride, int pt, int pl, int oh, int ow) {
        int nr = Sgemm.NR;
        return (k0, kc, j0, nc, dst, dstOff) -> {
            int panels = (nc + nr - 1) / nr;
            for (int pIdx = 0; pIdx < panels; pIdx++) {
                int q0 = j0 + pIdx * nr;
                int width = Math.min(nr, nc - pIdx * nr);
                int base = dstOff + pIdx * nr * kc;
                for (int kk = 0; kk < kc; kk++) {
                    int k = k0 + kk;
                    int ci = k / (kh * kw);
                    int r = k % (kh * kw);
                    int ky = r / kw;
                    int kx = r % kw;
                    int plane = xOff + ci * h * w;
                    int at = base + kk * nr;
                    int oy = q0 / ow;
                    int ox = q0 % ow;
                    for (int j = 0; j < width; ) {
                        int run = Math.min(width - j, ow - ox);
                        int iy = oy * stride - pt + ky;
                        if (iy < 0 || iy >= h) {
                            java.util.Arrays.fill(dst, at + j, at + j + run, 0f);
                        } else if (stride == 1) {
                            int ix0 = ox - pl + kx;
                            int lo = Math.min(run, Math.max(0, -ix0));
                            int hi = Math.max(lo, Math.min(run, w - ix0));
                            java.util.Arrays.fill(dst, at + j, at + j + lo, 0f);
                            System.arraycopy(x, plane + iy * w + ix0 + lo, dst, at + j + lo, hi - lo);
                            java.util.Arrays.fill(dst, at + j + hi, at + j + run, 0f);
                        } else {
                            int row = plane + iy * w;
                            for (int t = 0; t < run; t++) {
                                int ix = (ox + t) * stride - pl + kx;
                                dst[at + j + t] = ix >= 0 && ix < w ? x[row + ix] : 0f;
                            }
                        }
                        j += run;
                        ox = 0;
                        oy++;
                    }
                    java.util.Arrays.fill(dst, at + width, at + nr, 0f);
                }
            }
        };
    }
}
