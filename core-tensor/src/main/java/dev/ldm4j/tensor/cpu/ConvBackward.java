// Gradients of conv2d (cross-correlation, zero padding; see Conv2d), lowered onto Sgemm as the forward is.
// Shapes: x [N, C, H, W], w [O, C, kh, kw], dy [N, O, Ho, Wo]; P = Ho * Wo positions per image, K = C * kh * kw.
//
//  - Weight: dw [O, K] = dy [O, N*P] x patches [N*P, K], one GEMM whose inner dimension runs over every output
//    position of every image, so the sum over the batch happens inside the micro-kernel's FP32 accumulators, as the
//    sum over channels does in the forward. dy's rows are packed straight from the tensor (across image boundaries)
//    and the patch panels straight from x (the transposed im2col matrix is never built).
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
                dyRows(df.a(), df.off(), d.o(), p),
                patchesT(xf.a(), xf.off(), d, stride, pt, pl),
                out, 0, kdim, Sgemm.Epilogue.NONE);
        return Tensor.of(out, d.o(), d.c(), kh, kw);
    }

    /** Packs A = dy viewed as [O, N*P]: element (o, j) is dy[j / P, o, j % P], read in runs that stop at image boundaries. */
    static Sgemm.PackA dyRows(float[] dy, int off, int o, int p) {
        int mr = Sgemm.MR;
        return (i0, mc, k0, kc, dst) -> {
            for (int r0 = 0; r0 < mc; r0 += mr) {
                int rows = Math.min(mr, mc - r0);
                int base = r0 * kc;
                for (int r = 0; r < mr; r++) {
                    if (r >= rows) {
                        for (int k = 0; k < kc; k++) {
                            dst[base + k * mr + r] = 0f;
                        }
                        continue;
                    }
                    int row = i0 + r0 + r;
                    for (int j = k0; j < k0 + kc; ) {
                        int img = j / p, q = j % p;
                        int run = Math.min(p - q, k0 + kc - j);
                        int src = off + (img * o + row) * p + q;
                        int at = base + (j - k0) * mr + r;
                        for (int t = 0; t < run; t++) {
                            dst[at + t * mr] = dy[src + t];
                        }
                        j += run;
                    }
                }
            }
        };
    }

    /**
     * Packs B = the patches as [N*P, K]: row j = (image, oy, ox), column k = (ci, ky, kx), value
     * x[image, ci, oy * stride - pt + ky, ox * stride - pl + kx] or 0 in the padding. Each panel column (one tap) is
     * filled along the positions, reading runs of one input row.
     */
    static Sgemm.PackB patchesT(float[] x, int xOff, Dims d, int stride, int pt, int pl) {
        int nr = Sgemm.NR;
        int c = d.c(), h = d.h(), w = d.w(), kh = d.kh(), kw = d.kw(), oh = d.oh(), ow = d.ow();
        int p = oh * ow;
        return (k0, kc, j0, nc, dst, dstOff) -> {
            int panels = (nc + nr - 1) / nr;
            for (int pIdx = 0; pIdx < panels; pIdx++) {
                int width = Math.min(nr, nc - pIdx * nr);
                int base = dstOff + pIdx * nr * kc;
                for (int col = 0; col < nr; col++) {
                    if (col >= width) {
                        for (int k = 0; k < kc; k++) {
                            dst[base + k * nr + col] = 0f;
                        }
                        continue;
                    }
                    int tap = j0 + pIdx * nr + col;
                    int ci = tap / (kh * kw);
                    int r = tap % (kh * kw);
                    int ky = r / kw, kx = r % kw;
                    // the run of ox whose input column lies inside the image: ox in [oxLo, oxHi)
                    int oxLo = Math.min(ow, Math.max(0, ceilDiv(pl - kx, stride)));
                    int oxHi = Math.max(oxLo, Math.min(ow, ceilDiv(w + pl - kx, stride)));
                    int img = k0 / p, q = k0 % p;
                    int oy = q / ow, ox = q % ow;
                    int at = base + col;
                    for (int j = 0; j < kc; ) {
                        int run = Math.min(ow - ox, kc - j);
                        int iy = oy * stride - pt + ky;
                        int end = ox + run;
                        if (iy < 0 || iy >= h) {
                            for (int t = 0; t < run; t++) {
                                dst[at + t * nr] = 0f;
                            }
                        } else {
                            int row = xOff + ((img * c + ci) * h + iy) * w - pl + kx;
                            int lo = Math.min(end, Math.max(ox, oxLo)), hi = Math.max(lo, Math.min(end, oxHi));
                            int t = 0;
                            for (int o = ox; o < lo; o++, t++) {
                                dst[at + t * nr] = 0f;
                            }
                            if (stride == 1) {
                                for (int o = lo; o < hi; o++, t++) {
                                    dst[at + t * nr] = x[row + o];
                                }
                            } else {
                                for (int o = lo; o < hi; o++, t++) {
                                    dst[at + t * nr] = x[row + o * stride];
                                }
                            }
                            for (int o = hi; o < end; o++, t++) {
                                dst[at + t * nr] = 0f;
                            }
                        }
                        at += run * nr;
                        j += run;
                        ox = 0;
                        if (++oy == oh) {
                            oy = 0;
                            img++;
                        }
                    }
                }
            }
        };
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
        // A = w^T [K, O], row-major, so that its MR-row panels pack from contiguous rows
        Views.Flat wf = Views.flat(w);
        float[] wt = new float[kdim * o];
        for (int oc = 0; oc < o; oc++) {
            for (int k = 0; k < kdim; k++) {
                wt[k * o + oc] = wf.a()[wf.off() + oc * kdim + k];
            }
        }
        Views.Flat df = Views.flat(dy);
        // equal channel blocks of about COL_ROWS dcol rows, smaller when that gives the pool too few tasks
        int blocks = Math.max(ceilDiv(c * taps, COL_ROWS), ceilDiv(2 * Parallel.THREADS, n));
        blocks = Math.min(c, blocks);
        int cb = ceilDiv(c, blocks);
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
            Sgemm.PackA pa = Sgemm.packRowMajorA(wt, c0 * taps * o, o);
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
