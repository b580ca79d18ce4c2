// The patches of a convolution's input, read from a zero-padded copy of x (stride-phase planes, or at stride 1 one
// shifted copy per horizontal tap) in which every tap of every output position is a plain offset into one array. Both products that run over the patches
// pack their B operand from them: the forward (and the stride-1 input gradient, a forward conv) as im2col [K, N*P],
// the weight gradient as its transpose [N*P, K]; neither matrix is ever built.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.cpu.ConvBackward.Dims;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

final class ConvPatches {
    private ConvPatches() {
    }

    /**
     * A zero-padded copy of x from which every tap of every output position is a plain offset: tap k = (ci, ky, kx)
     * of output position (oy, ox) of image img is a[img * imgStride + taps[k] + oy * ws + ox], so along ox each tap
     * is a contiguous run. Two layouts (phases and shifted below) give this form.
     */
    record Phases(float[] a, int ws, int imgStride, int[] taps) {
    }

    /** The floats phases allocates: a copy of x, zero-padded, as large again as x or a little larger. */
    static long phaseFloats(Dims d, int s) {
        return (long) d.n() * d.c() * s * s * (d.oh() + (d.kh() - 1) / s) * (d.ow() + (d.kw() - 1) / s);
    }

    /**
     * x split by stride phase and zero-padded: plane (n, c, py, px) is [hs, ws] with element (i, j) =
     * x[n, c, stride * i + py - pt, stride * j + px - pl] (0 outside x), hs = Ho + (kh-1)/stride, ws = Wo + (kw-1)/stride.
     * Tap (ky, kx) at output (oy, ox) then reads plane (ky % s, kx % s) at (oy + ky/s, ox + kx/s): along ox a contiguous
     * run, for every stride and padding, and all taps of one position lie at fixed offsets from each other.
     */
    static Phases phases(float[] x, int xOff, Dims d, int s, int pt, int pl) {
        int c = d.c(), h = d.h(), w = d.w();
        int hs = d.oh() + (d.kh() - 1) / s, ws = d.ow() + (d.kw() - 1) / s;
        float[] a = new float[Math.toIntExact(phaseFloats(d, s))];
        Parallel.forRange(d.n() * c, 4, (from, to, worker) -> {
            for (int nc = from; nc < to; nc++) {
                int src = xOff + nc * h * w;
                for (int py = 0; py < s; py++) {
                    for (int px = 0; px < s; px++) {
                        int dst = ((nc * s + py) * s + px) * hs * ws;
                        // columns j with 0 <= s * j + px - pl < w
                        int jLo = Math.min(ws, Math.max(0, Math.ceilDiv(pl - px, s)));
                        int jHi = Math.max(jLo, Math.min(ws, Math.ceilDiv(w + pl - px, s)));
                        for (int i = 0; i < hs; i++) {
                            int iy = s * i + py - pt;
                            if (iy < 0 || iy >= h) {
                                continue;
                            }
                            int row = src + iy * w + px - pl;
                            int at = dst + i * ws;
                            if (s == 1) {
                                System.arraycopy(x, row + jLo, a, at + jLo, jHi - jLo);
                            } else {
                                for (int j = jLo; j < jHi; j++) {
                                    a[at + j] = x[row + s * j];
                                }
                            }
                        }
                    }
                }
            }
        });
        int plane = hs * ws, kh = d.kh(), kw = d.kw();
        int[] taps = new int[c * kh * kw];
        for (int k = 0; k < taps.length; k++) {
            int ci = k / (kh * kw), ky = k % (kh * kw) / kw, kx = k % kw;
            taps[k] = ((ci * s + ky % s) * s + kx % s) * plane + (ky / s) * ws + kx / s;
        }
        return new Phases(a, ws, c * s * s * plane, taps);
    }

    /** The floats shifted allocates: kw copies of x, padded by kh - 1 rows. */
    static long shiftedFloats(Dims d) {
        return (long) d.n() * d.c() * d.kw() * (d.oh() + d.kh() - 1) * d.ow();
    }

    /**
     * For stride 1: x once per horizontal tap, shifted and zero-padded, rows as wide as the output: plane (n, c, kx) is
     * [oh + kh - 1, ow] with element (i, j) = x[n, c, i - pt, j + kx - pl] (0 outside x). Tap (ky, kx) at output (oy, ox)
     * reads plane kx at (oy + ky, ox), so consecutive positions of an image (along ox and on to the next row) are
     * consecutive floats: a packed panel of positions is a plain vector load per tap, where phases needs gathers
     * once the output is narrower than a vector. When the output is as wide as x (a "same" convolution) each plane is
     * one copy of x's plane moved by kx - pl, with the columns that wrapped around set to zero.
     */
    static Phases shifted(float[] x, int xOff, Dims d, int pt, int pl) {
        int c = d.c(), h = d.h(), w = d.w(), kh = d.kh(), kw = d.kw(), ow = d.ow();
        int hs = d.oh() + kh - 1, plane = hs * ow;
        float[] a = new float[Math.toIntExact(shiftedFloats(d))];
        Parallel.forRange(d.n() * c, 16, (from, to, worker) -> {
            for (int nc = from; nc < to; nc++) {
                int src = xOff + nc * h * w;
                for (int kx = 0; kx < kw; kx++) {
                    int dst = (nc * kw + kx) * plane, shift = kx - pl;
                    // output columns j with 0 <= j + shift < w, rows i with 0 <= i - pt < h
                    int jLo = Math.min(ow, Math.max(0, -shift)), jHi = Math.max(jLo, Math.min(ow, w - shift));
                    int iLo = Math.min(hs, pt), iHi = Math.max(iLo, Math.min(hs, h + pt));
                    if (ow == w && iHi - iLo == h) {
                        // one run: dst[(pt + r) * w + j] = x[r * w + j + shift], then the wrapped columns cleared
                        int t0 = Math.max(0, -shift), t1 = Math.min(h * w, h * w - shift);
                        if (t1 > t0) {
                            System.arraycopy(x, src + t0 + shift, a, dst + pt * w + t0, t1 - t0);
                        }
                        for (int r = 0; r < h; r++) {
                            int row = dst + (pt + r) * w;
                            java.util.Arrays.fill(a, row, row + jLo, 0f);
                            java.util.Arrays.fill(a, row + jHi, row + w, 0f);
                        }
                    } else {
                        for (int i = iLo; i < iHi && jHi > jLo; i++) {
                            System.arraycopy(x, src + (i - pt) * w + jLo + shift, a, dst + i * ow + jLo, jHi - jLo);
                        }
                    }
                }
            }
        });
        int[] taps = new int[c * kh * kw];
        for (int k = 0; k < taps.length; k++) {
            int ci = k / (kh * kw), ky = k % (kh * kw) / kw, kx = k % kw;
            taps[k] = (ci * kw + kx) * plane + ky * ow;
        }
        return new Phases(a, ow, c * kw * plane, taps);
    }

    /**
     * Packs B = the patches as [N*P, K] from the phase planes: row j = (image, oy, ox), column k = (ci, ky, kx). Each
     * packed row (one position, the panel's NR taps) is two vector gathers at the panel's tap offsets, lanes past the
     * last tap masked to zero (only the last panel has a mask: masked gathers measured slower). (Loading 16 positions
     * per tap and transposing 16 x 16 blocks in registers measured no faster: both take about 0.6 cycles per element.)
     */
    static Sgemm.PackB patchesT(Phases ph, Dims d) {
        int nr = Sgemm.NR, l = Sgemm.L;
        int oh = d.oh(), ow = d.ow(), p = oh * ow;
        int imgStride = ph.imgStride();
        float[] a = ph.a();
        int[] taps = ph.taps();
        return (k0, kc, j0, nc, dst, dstOff) -> {
            int[] offs = new int[nr];
            int panels = (nc + nr - 1) / nr;
            for (int pIdx = 0; pIdx < panels; pIdx++) {
                int width = Math.min(nr, nc - pIdx * nr);
                for (int col = 0; col < nr; col++) {
                    offs[col] = taps[j0 + pIdx * nr + Math.min(col, width - 1)];
                }
                boolean full = width == nr;
                VectorMask<Float> m0 = Sgemm.S.indexInRange(0, width), m1 = Sgemm.S.indexInRange(l, width);
                int at = dstOff + pIdx * nr * kc;
                int img = k0 / p, q = k0 % p, oy = q / ow, ox = q % ow;
                for (int j = 0; j < kc; j++, at += nr) {
                    int src = img * imgStride + oy * ph.ws() + ox;
                    (full ? FloatVector.fromArray(Sgemm.S, a, src, offs, 0) : FloatVector.fromArray(Sgemm.S, a, src, offs, 0, m0)).intoArray(dst, at);
                    (full ? FloatVector.fromArray(Sgemm.S, a, src, offs, l) : FloatVector.fromArray(Sgemm.S, a, src, offs, l, m1)).intoArray(dst, at + l);
                    if (++ox == ow) {
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

    /**
     * Packs B = the im2col matrix [K, N*P] from the phase planes: row k = (ci, ky, kx), column j = (image, oy, ox), as
     * Conv2d multiplies it. Each packed row (one tap, the panel's NR positions) is the tap's offset plus the panel's
     * column offsets: a plain vector load for each half-panel whose positions are one contiguous run (Wo a multiple
     * of L), two vector gathers otherwise; lanes past the last column masked to zero (in the last panel only).
     */
    static Sgemm.PackB patches(Phases ph, Dims d) {
        int nr = Sgemm.NR, l = Sgemm.L;
        int ow = d.ow(), p = d.oh() * ow;
        int imgStride = ph.imgStride();
        float[] a = ph.a();
        int[] taps = ph.taps();
        return (k0, kc, j0, nc, dst, dstOff) -> {
            int[] cols = new int[nr];
            int panels = (nc + nr - 1) / nr;
            for (int pIdx = 0; pIdx < panels; pIdx++) {
                int width = Math.min(nr, nc - pIdx * nr);
                int j = j0 + pIdx * nr, img = j / p, oy = j % p / ow, ox = j % ow;
                for (int col = 0; col < width; col++) {
                    cols[col] = img * imgStride + oy * ph.ws() + ox;
                    if (++ox == ow) {
                        ox = 0;
                        if (++oy == d.oh()) {
                            oy = 0;
                            img++;
                        }
                    }
                }
                java.util.Arrays.fill(cols, width, nr, cols[width - 1]);
                boolean full = width == nr;
                boolean run0 = width >= l && cols[l - 1] - cols[0] == l - 1;
                boolean run1 = width == nr && cols[nr - 1] - cols[l] == l - 1;
                VectorMask<Float> m0 = Sgemm.S.indexInRange(0, width), m1 = Sgemm.S.indexInRange(l, width);
                int at = dstOff + pIdx * nr * kc;
                for (int kk = 0; kk < kc; kk++, at += nr) {
                    int tap = taps[k0 + kk];
                    (run0 ? FloatVector.fromArray(Sgemm.S, a, tap + cols[0])
                            : full ? FloatVector.fromArray(Sgemm.S, a, tap, cols, 0) : FloatVector.fromArray(Sgemm.S, a, tap, cols, 0, m0)).intoArray(dst, at);
                    (run1 ? FloatVector.fromArray(Sgemm.S, a, tap + cols[l])
                            : full ? FloatVector.fromArray(Sgemm.S, a, tap, cols, l) : FloatVector.fromArray(Sgemm.S, a, tap, cols, l, m1)).intoArray(dst, at + l);
                }
            }
        };
    }
}
