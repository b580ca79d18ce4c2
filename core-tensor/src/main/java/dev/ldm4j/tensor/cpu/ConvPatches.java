// The patches of a convolution's input, read from stride-phase planes: x split by stride phase and zero-padded, so
// that every tap of every output position is a plain offset into one array. Both products that run over the patches
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
     * x split by stride phase and zero-padded: plane (n, c, py, px) is [hs, ws] with element (i, j) =
     * x[n, c, stride * i + py - pt, stride * j + px - pl] (0 outside x), hs = Ho + (kh-1)/stride, ws = Wo + (kw-1)/stride.
     * Tap (ky, kx) at output (oy, ox) then reads plane (ky % s, kx % s) at (oy + ky/s, ox + kx/s): along ox a contiguous
     * run, for every stride and padding, and all taps of one position lie at fixed offsets from each other.
     */
    record Phases(float[] a, int s, int hs, int ws) {
        int plane() {
            return hs * ws;
        }

        /** Offset of tap (ci, ky, kx) relative to the start of an image and the output position (0, 0). */
        int tapOffset(int ci, int ky, int kx) {
            return ((ci * s + ky % s) * s + kx % s) * plane() + (ky / s) * ws + kx / s;
        }
    }

    /** The floats phases allocates: a copy of x, zero-padded, as large again as x or a little larger. */
    static long phaseFloats(Dims d, int s) {
        return (long) d.n() * d.c() * s * s * (d.oh() + (d.kh() - 1) / s) * (d.ow() + (d.kw() - 1) / s);
    }

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
        return new Phases(a, s, hs, ws);
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
        int imgStride = d.c() * ph.s() * ph.s() * ph.plane();
        float[] a = ph.a();
        int[] taps = tapOffsets(ph, d);
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
        int imgStride = d.c() * ph.s() * ph.s() * ph.plane();
        float[] a = ph.a();
        int[] taps = tapOffsets(ph, d);
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

    /** The offset of each tap k = (ci, ky, kx), k < C * kh * kw, in the phase planes (Phases.tapOffset). */
    private static int[] tapOffsets(Phases ph, Dims d) {
        int kh = d.kh(), kw = d.kw();
        int[] taps = new int[d.c() * kh * kw];
        for (int k = 0; k < taps.length; k++) {
            taps[k] = ph.tapOffset(k / (kh * kw), k % (kh * kw) / kw, k % kw);
        }
        return taps;
    }
}
