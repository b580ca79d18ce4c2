// Gradients of conv2d (cross-correlation, zero padding; see Conv2d), lowered onto Sgemm as the forward is.
// Shapes: x [N, C, H, W], w [O, C, kh, kw], dy [N, O, Ho, Wo]; P = Ho * Wo positions per image, K = C * kh * kw.
//
//  - Weight: dw [O, K] = dy [O, N*P] x patches [N*P, K], one GEMM whose inner dimension runs over every output
//    position of every image, so the sum over the batch happens inside the micro-kernel's FP32 accumulators, as the
//    sum over channels does in the forward. dy is packed once, whole, into the GEMM's row-panel layout; the patches
//    come from x's zero-padded stride-phase planes (ConvPatches.patchesT; the transposed im2col matrix is never built).
//  - Input, stride 1 with every pad <= kernel - 1: the transposed convolution is itself a forward conv of dy with the
//    flipped, transposed weight w'[c, o, ky, kx] = w[o, c, kh-1-ky, kw-1-kx] and pads kh-1-pt, kh-1-pb, kw-1-pl,
//    kw-1-pr, so it runs on the forward's implicit GEMM and writes dx once, with no scatter.
//  - Input otherwise (stride 2, large pads): per image and block of channels, dcol [cb*kh*kw, P] = w^T x dy[n] by
//    GEMM, then col2im adds each dcol row into its channel's plane of dx. A block of channels owns its planes, so
//    blocks run in parallel without sharing any dx element; dcol is made a few output rows at a time so it stays in
//    cache between the GEMM that writes it and the scatter that reads it.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.Tensor;

final class ConvBackward {
    /** dcol rows (channels x taps) aimed at per task of the col2im path. */
    private static final int COL_ROWS = 256;

    private ConvBackward() {
    }

    /** The shapes of a conv2d gradient call, checked: {N, C, H, W, O, kh, kw, Ho, Wo}. */
    record Dims(int n, int c, int h, int w, int o, int kh, int kw, int oh, int ow) {
    }

    /** Checks conv2dBackwardInput's arguments against the forward they differentiate. */
    static Dims checkInput(Tensor dy, Tensor w, int inH, int inW, int stride, int pt, int pb, int pl, int pr) {
        String op = "conv2dBackwardInput";
        Shapes.requireRank(op, "dy", dy, 4);
        Shapes.requireRank(op, "w", w, 4);
        checkStridePads(op, stride, pt, pb, pl, pr);
        if (inH < 0 || inW < 0) {
            throw Shapes.bad(op, "input size " + inH + "x" + inW + " must not be negative");
        }
        if (dy.dim(1) != w.dim(0)) {
            throw Shapes.bad(op, "dy " + Shapes.s(dy) + " has " + dy.dim(1) + " channels, weight " + Shapes.s(w) + " has " + w.dim(0) + " outputs");
        }
        Dims d = new Dims(dy.dim(0), w.dim(1), inH, inW, w.dim(0), w.dim(2), w.dim(3), dy.dim(2), dy.dim(3));
        checkOutput(op, d, stride, pt, pb, pl, pr);
        return d;
    }

    /** Checks conv2dBackwardWeight's arguments against the forward they differentiate. */
    static Dims checkWeight(Tensor x, Tensor dy, int kh, int kw, int stride, int pt, int pb, int pl, int pr) {
        String op = "conv2dBackwardWeight";
        Shapes.requireRank(op, "x", x, 4);
        Shapes.requireRank(op, "dy", dy, 4);
        checkStridePads(op, stride, pt, pb, pl, pr);
        if (kh < 1 || kw < 1) {
            throw Shapes.bad(op, "kernel " + kh + "x" + kw + " must be at least 1x1");
        }
        if (x.dim(0) != dy.dim(0)) {
            throw Shapes.bad(op, "x " + Shapes.s(x) + " and dy " + Shapes.s(dy) + " differ in batch size");
        }
        Dims d = new Dims(x.dim(0), x.dim(1), x.dim(2), x.dim(3), dy.dim(1), kh, kw, dy.dim(2), dy.dim(3));
        checkOutput(op, d, stride, pt, pb, pl, pr);
        return d;
    }

    private static void checkStridePads(String op, int stride, int pt, int pb, int pl, int pr) {
        if (stride < 1 || pt < 0 || pb < 0 || pl < 0 || pr < 0) {
            throw Shapes.bad(op, "stride " + stride + " must be >= 1 and padding (" + pt + ", " + pb + ", " + pl + ", " + pr + ") >= 0");
        }
    }

    private static void checkOutput(String op, Dims d, int stride, int pt, int pb, int pl, int pr) {
        int oh = Shapes.convOut(op, d.h(), d.kh(), stride, pt, pb);
        int ow = Shapes.convOut(op, d.w(), d.kw(), stride, pl, pr);
        if (oh != d.oh() || ow != d.ow()) {
            throw Shapes.bad(op, "dy has " + d.oh() + "x" + d.ow() + " positions, but conv2d of a " + d.h() + "x" + d.w() + " input with kernel "
                    + d.kh() + "x" + d.kw() + ", stride " + stride + ", padding (" + pt + ", " + pb + ", " + pl + ", " + pr + ") gives " + oh + "x" + ow);
        }
    }

    // ---- weight gradient ----

    /** dw [O, C, kh, kw] = sum over images and positions of dy x patches. */
    static Tensor weight(Tensor x, Tensor dy, int kh, int kw, int stride, int pt, int pb, int pl, int pr) {
        Dims d = checkWeight(x, dy, kh, kw, stride, pt, pb, pl, pr);
        int p = d.oh() * d.ow();
        int kdim = d.c() * kh * kw;
        int inner = Math.toIntExact((long) d.n() * p);
        float[] out = new float[Math.toIntExact((long) d.o() * kdim)];
        Views.Flat xf = Views.flat(x);
        Views.Flat df = Views.flat(dy);
        Sgemm.gemm(d.o(), kdim, inner,
                dyPanels(df.a(), df.off(), d.n(), d.o(), p).packA(0),
                ConvPatches.patchesT(ConvPatches.phases(xf.a(), xf.off(), d, stride, pt, pl), d),
                out, 0, kdim, Sgemm.Epilogue.NONE);
        return Tensor.of(out, d.o(), d.c(), kh, kw);
    }

    /**
     * A matrix [M, K] held whole in Sgemm's MR-row panel layout: element (i, k) at packed[((i / MR) * K + k) * MR + i % MR],
     * rows past M zero. Sgemm packs A once per task (several times per row block when the columns are split into
     * groups); packing the matrix once and copying contiguous runs of it keeps that cheap when A is large against the
     * work (the weight gradient's A is dy itself: with O = 64, repacking it from dy each time cost a quarter of the GEMM).
     */
    record Panels(float[] packed, int k) {
        /** PackA over the rows from row0 on (row0 a multiple of MR): each panel's run of kc columns is one copy. */
        Sgemm.PackA packA(int row0) {
            int mr = Sgemm.MR;
            return (i0, mc, k0, kc, dst, dstOff) -> {
                for (int r0 = 0; r0 < mc; r0 += mr) {
                    int panel = (row0 + i0 + r0) / mr;
                    System.arraycopy(packed, (panel * k + k0) * mr, dst, dstOff + r0 * kc, kc * mr);
                }
            };
        }
    }

    /** dy viewed as [O, N*P] (element (o, j) = dy[j / P, o, j % P]) as Panels. */
    static Panels dyPanels(float[] dy, int off, int n, int o, int p) {
        int mr = Sgemm.MR;
        int inner = n * p;
        int panels = (o + mr - 1) / mr;
        float[] packed = new float[Math.toIntExact((long) panels * mr * inner)];
        Parallel.forRange(panels * n, 1, (from, to, worker) -> {
            for (int task = from; task < to; task++) {
                int panel = task / n, img = task % n;
                int rows = Math.min(mr, o - panel * mr);
                int base = (panel * inner + img * p) * mr;
                // blocks of 256 positions keep the 8 interleaved rows' destination in L1
                for (int q0 = 0; q0 < p; q0 += 256) {
                    int q1 = Math.min(p, q0 + 256);
                    for (int r = 0; r < rows; r++) {
                        int src = off + (img * o + panel * mr + r) * p;
                        for (int q = q0; q < q1; q++) {
                            packed[base + q * mr + r] = dy[src + q];
                        }
                    }
                }
            }
        });
        return new Panels(packed, inner);
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    private static int ceilDiv(int a, int b) {
        return -Math.floorDiv(-a, b);
    }

    // ---- input gradient ----

    /** dx [N, C, inH, inW]: the transposed convolution of dy by w. */
    static Tensor input(Tensor dy, Tensor w, int inH, int inW, int stride, int pt, int pb, int pl, int pr) {
        Dims d = checkInput(dy, w, inH, inW, stride, pt, pb, pl, pr);
        int kh = d.kh(), kw = d.kw();
        if (stride == 1 && pt <= kh - 1 && pb <= kh - 1 && pl <= kw - 1 && pr <= kw - 1) {
            return Conv2d.forward(dy, flippedTransposed(w, d), null, 1, kh - 1 - pt, kh - 1 - pb, kw - 1 - pl, kw - 1 - pr);
        }
        return col2imPath(dy, w, d, stride, pt, pl);
    }

    /** w'[c, o, ky, kx] = w[o, c, kh-1-ky, kw-1-kx]: the kernel of the transposed convolution at stride 1. */
    static Tensor flippedTransposed(Tensor w, Dims d) {
        int o = d.o(), c = d.c(), kh = d.kh(), kw = d.kw();
        Views.Flat wf = Views.flat(w);
        float[] out = new float[o * c * kh * kw];
        for (int oc = 0; oc < o; oc++) {
            for (int ci = 0; ci < c; ci++) {
                int src = wf.off() + (oc * c + ci) * kh * kw;
                int dst = (ci * o + oc) * kh * kw;
                for (int t = 0; t < kh * kw; t++) {
                    out[dst + kh * kw - 1 - t] = wf.a()[src + t];
                }
            }
        }
        return Tensor.of(out, c, o, kh, kw);
    }

    /** GEMM into dcol, then col2im, per (image, block of channels), a few output rows at a time. */
    private static Tensor col2imPath(Tensor dy, Tensor w, Dims d, int stride, int pt, int pl) {
        int n = d.n(), c = d.c(), h = d.h(), wd = d.w(), o = d.o(), kh = d.kh(), kw = d.kw(), oh = d.oh(), ow = d.ow();
        int taps = kh * kw, p = oh * ow, kdim = c * taps;
        float[] dx = new float[Math.toIntExact((long) n * c * h * wd)];
        if (dx.length == 0 || p == 0) {
            return Tensor.of(dx, n, c, h, wd);
        }
        // A = w^T [K, O] as Panels: row k = (ci, ky, kx) is w[., ci, ky, kx]
        Views.Flat wf = Views.flat(w);
        int mr = Sgemm.MR;
        float[] wt = new float[ceilDiv(kdim, mr) * mr * o];
        for (int k = 0; k < kdim; k++) {
            int at = (k / mr) * o * mr + k % mr;
            for (int oc = 0; oc < o; oc++) {
                wt[at + oc * mr] = wf.a()[wf.off() + oc * kdim + k];
            }
        }
        Panels wPanels = new Panels(wt, o);
        Views.Flat df = Views.flat(dy);
        // equal channel blocks of about COL_ROWS dcol rows (fewer when that gives the pool too few tasks), each
        // starting on a panel boundary of w^T: cb * taps a multiple of MR
        int blocks = Math.max(ceilDiv(c * taps, COL_ROWS), ceilDiv(2 * Parallel.THREADS, n));
        int unit = mr / gcd(taps, mr);
        int cb = Math.min(c, ceilDiv(ceilDiv(c, Math.min(c, blocks)), unit) * unit);
        blocks = ceilDiv(c, cb);
        // output rows per GEMM: about Sgemm.NC columns
        int rowsPer = Math.max(1, Math.min(oh, Sgemm.NC / Math.max(1, ow)));
        int colCap = rowsPer * ow;
        float[][] dcol = new float[Parallel.THREADS][];
        int nb = blocks;
        Parallel.forEach(n * nb, (task, worker) -> {
            int img = task / nb, c0 = (task % nb) * cb, c1 = Math.min(c, c0 + cb);
            int m = (c1 - c0) * taps;
            if (dcol[worker] == null) {
                dcol[worker] = new float[cb * taps * colCap];
            }
            float[] col = dcol[worker];
            Sgemm.PackA pa = wPanels.packA(c0 * taps);
            for (int oy0 = 0; oy0 < oh; oy0 += rowsPer) {
                int rows = Math.min(rowsPer, oh - oy0);
                int cols = rows * ow;
                Sgemm.PackB pb = Sgemm.packB(new Sgemm.Operand(new FloatStorage(df.a()), df.off() + ((long) img * o) * p + (long) oy0 * ow, p, 1));
                Sgemm.gemm(m, cols, o, pa, pb, col, 0, cols, Sgemm.Epilogue.NONE, false);
                for (int ci = c0; ci < c1; ci++) {
                    int plane = (img * c + ci) * h * wd;
                    for (int t = 0; t < taps; t++) {
                        int ky = t / kw, kx = t % kw;
                        int src = ((ci - c0) * taps + t) * cols;
                        col2imRow(col, src, dx, plane, h, wd, oy0, rows, ow, stride, pt - ky, pl - kx);
                    }
                }
            }
        });
        return Tensor.of(dx, n, c, h, wd);
    }

    /**
     * dx[plane + iy * w + ix] += col[src + (oy - oy0) * ow + ox] for oy in [oy0, oy0 + rows), every ox, where
     * iy = oy * stride - padY and ix = ox * stride - padX lie inside the h x w image.
     */
    static void col2imRow(float[] col, int src, float[] dx, int plane, int h, int w, int oy0, int rows, int ow,
                          int stride, int padY, int padX) {
        int oxLo = Math.min(ow, Math.max(0, ceilDiv(padX, stride)));
        int oxHi = Math.max(oxLo, Math.min(ow, ceilDiv(w + padX, stride)));
        for (int r = 0; r < rows; r++) {
            int iy = (oy0 + r) * stride - padY;
            if (iy < 0 || iy >= h) {
                continue;
            }
            int from = src + r * ow;
            int to = plane + iy * w - padX;
            if (stride == 1) {
                for (int ox = oxLo; ox < oxHi; ox++) {
                    dx[to + ox] += col[from + ox];
                }
            } else {
                for (int ox = oxLo; ox < oxHi; ox++) {
                    dx[to + ox * stride] += col[from + ox];
                }
            }
        }
    }
}
