// Backward of multi-head attention (Attention.forward) on token-major q [B, Lq, H*D], k, v [B, Lk, H*D],
// flash-attention-2 style: nothing larger than a QB x KB tile of scores is ever stored.
//
// Per (batch, head), with S = scale Q K^T, P = softmax(S) (causal: query i sees keys j <= i), O = P V:
//   phase 1 (parallel over batch, head, query chunks): each query row's lse_i = log sum_j e^(S_ij),
//     by an online max and sum over key tiles, and D_i = dO_i . O_i (= sum_j P_ij dP_ij);
//   phase 2 (parallel over batch, head, key chunks): for each key tile j, over every query tile i:
//     P = exp(S - lse), dV_j += P^T dO_i, dP = dO_i V_j^T, dS = P (dP - D),
//     dK_j += scale dS^T Q_i, dQ_i += scale dS K_j.
//   dK and dV of a key tile belong to one task; dQ is summed in the task's own [Lq, D] buffer, written
//   directly when one task covers all keys of a head and otherwise summed over the key chunks in a fixed
//   order (phase 3), so the result does not depend on the thread count's scheduling.
// Q is packed once multiplied by scale, so S = Qs K^T and dK = dS^T Qs need no further scaling.
// Each product is a register-tiled Vector API micro-kernel (4 rows x 1-4 vectors) over packed tiles.
// Reference: Dao, "FlashAttention-2", ICLR 2024, algorithm 2; Dao et al., "FlashAttention", NeurIPS 2022,
// appendix B.2 (the backward pass).
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

final class AttentionBackward {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Keys per tile: four vectors, the width of the score micro-kernel. */
    static final int KB = 4 * L;
    /** Queries per tile (a multiple of 4, the micro-kernels' row count). */
    static final int QB = 64;

    private AttentionBackward() {
    }

    static Tensor[] backward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor dOut, int heads, float scale, boolean causal) {
        String op = "attentionBackward";
        int[] d = Shapes.attention(op, q, k, v, heads);
        int b = d[0], lq = d[1], lk = d[2], hh = d[3], dh = d[4];
        int width = hh * dh;
        for (Tensor t : new Tensor[] {out, dOut}) {
            if (t == null || !Arrays.equals(t.shape(), q.shape())) {
                throw Shapes.bad(op, (t == out ? "out " : "dOut ") + (t == null ? "null" : Shapes.s(t)) + " must have q's shape " + Shapes.s(q));
            }
        }
        float[] dq = new float[Math.toIntExact((long) b * lq * width)];
        float[] dk = new float[Math.toIntExact((long) b * lk * width)];
        float[] dv = new float[dk.length];
        if (dq.length > 0 && dk.length > 0) {
            new Run(q, k, v, out, dOut, b, lq, lk, hh, dh, scale, causal).gradients(dq, dk, dv);
        }
        return new Tensor[] {Tensor.of(dq, b, lq, width), Tensor.of(dk, b, lk, width), Tensor.of(dv, b, lk, width)};
    }

    /** One call's operands and sizes. */
    private static final class Run {
        final Views.Flat qf, kf, vf, of, gf;
        final int b, lq, lk, hh, dh, width, dp, lqPad;
        final float scale;
        final boolean causal;
        /** lse and D per (batch, head, query), at ((bi * hh + h) * lq + i). */
        final float[] lse, delta;

        Run(Tensor q, Tensor k, Tensor v, Tensor out, Tensor dOut, int b, int lq, int lk, int hh, int dh, float scale, boolean causal) {
            qf = Views.flat(q);
            kf = Views.flat(k);
            vf = Views.flat(v);
            of = Views.flat(out);
            gf = Views.flat(dOut);
            this.b = b;
            this.lq = lq;
            this.lk = lk;
            this.hh = hh;
            this.dh = dh;
            this.width = hh * dh;
            this.dp = (dh + L - 1) / L * L;
            this.lqPad = (lq + QB - 1) / QB * QB;
            this.scale = scale;
            this.causal = causal;
            lse = new float[b * hh * lq];
            delta = new float[b * hh * lq];
        }

        /** Splits of each (batch, head) so that there are at least two tasks per thread. */
        private int chunks(int blocks) {
            return Math.min(blocks, Math.max(1, (2 * Parallel.THREADS + b * hh - 1) / (b * hh)));
        }

        void gradients(float[] dq, float[] dk, float[] dv) {
            int qBlocks = lqPad / QB;
            int qChunks = chunks(qBlocks), qPer = (qBlocks + qChunks - 1) / qChunks;
            // scratch per worker, not per task: at training sizes (64 tokens of 32 per head) a task's products are
            // about a megaFLOP, and allocating and zeroing its tiles cost a large part of that
            Scratch[] scratch = new Scratch[Parallel.THREADS];
            Parallel.forEach(b * hh * qChunks, (task, worker) -> {
                int chunk = task % qChunks, bh = task / qChunks;
                int q0 = chunk * qPer * QB, q1 = Math.min(lq, q0 + qPer * QB);
                if (q0 < q1) {
                    rowStats(bh / hh, bh % hh, q0, q1, scratch(scratch, worker));
                }
            });
            int kBlocks = (lk + KB - 1) / KB;
            int kChunks = chunks(kBlocks), kPer = (kBlocks + kChunks - 1) / kChunks;
            float[][] partial = kChunks > 1 ? new float[b * hh * kChunks][] : null;
            Parallel.forEach(b * hh * kChunks, (task, worker) -> {
                int chunk = task % kChunks, bh = task / kChunks;
                int k0 = chunk * kPer * KB, k1 = Math.min(lk, k0 + kPer * KB);
                if (k0 >= k1) {
                    return;
                }
                float[] dqAcc = keyChunk(bh / hh, bh % hh, k0, k1, dk, dv, scratch(scratch, worker));
                if (partial == null) {
                    writeDq(dqAcc, bh, dq);
                } else {
                    partial[task] = dqAcc;
                }
            });
            if (partial != null) {
                // dQ = scale * sum over key chunks, in chunk order
                Parallel.forRange(b * hh * lq, 64, (from, to, worker) -> {
                    float[] row = new float[dh];
                    for (int r = from; r < to; r++) {
                        int bh = r / lq, i = r % lq;
                        Arrays.fill(row, 0f);
                        for (int c = 0; c < kChunks; c++) {
                            float[] p = partial[bh * kChunks + c];
                            if (p != null) {
                                for (int e = 0; e < dh; e++) {
                                    row[e] += p[i * dp + e];
                                }
                            }
                        }
                        int at = ((bh / hh) * lq + i) * width + (bh % hh) * dh;
                        for (int e = 0; e < dh; e++) {
                            dq[at + e] = row[e] * scale;
                        }
                    }
                });
            }
        }

        private void writeDq(float[] dqAcc, int bh, float[] dq) {
            int bi = bh / hh, h = bh % hh;
            for (int i = 0; i < lq; i++) {
                scaleRow(dqAcc, i * dp, scale);
                System.arraycopy(dqAcc, i * dp, dq, (bi * lq + i) * width + h * dh, dh);
            }
        }

        /** a[at .. at + dp) *= s. */
        private void scaleRow(float[] a, int at, float s) {
            for (int e = 0; e < dp; e += L) {
                FloatVector.fromArray(S, a, at + e).mul(s).intoArray(a, at + e);
            }
        }

        /**
         * Packs rows [i0, i1) of head h of t (scaled by s) into dst [.., dp] from row dstRow on; the padding
         * columns dh..dp of dst must be zero already.
         */
        private void packRows(Views.Flat t, int rowsTotal, int bi, int h, int i0, int i1, float s, float[] dst, int dstRow) {
            for (int i = i0; i < i1; i++) {
                int o = (dstRow + i - i0) * dp;
                System.arraycopy(t.a(), t.off() + (bi * rowsTotal + i) * width + h * dh, dst, o, dh);
                if (s != 1f) {
                    scaleRow(dst, o, s);
                }
            }
        }

        /** Packs keys (or values) [j0, j0 + n) of head h transposed: dst[e * stride + j - j0], zero beyond n up to stride. */
        private void packTransposed(Views.Flat t, int bi, int h, int j0, int n, float[] dst, int stride) {
            Arrays.fill(dst, 0f);
            for (int j = 0; j < n; j++) {
                int at = t.off() + (bi * lk + j0 + j) * width + h * dh;
                for (int e = 0; e < dh; e++) {
                    dst[e * stride + j] = t.a()[at + e];
                }
            }
        }

        /** Keys a query row may see in [j0, j0 + valid): causal rows see keys j <= i only; may be <= 0. */
        private int visible(int i, int j0, int valid) {
            return causal ? Math.min(valid, i - j0 + 1) : valid;
        }

        /** A worker's tiles, made on its first task of the call. */
        private Scratch scratch(Scratch[] perWorker, int worker) {
            if (perWorker[worker] == null) {
                perWorker[worker] = new Scratch(dh, dp, lqPad, (lk + KB - 1) / KB * KB);
            }
            return perWorker[worker];
        }

        /** Phase 1: lse and D for queries [q0, q1) of (bi, h). */
        private void rowStats(int bi, int h, int q0, int q1, Scratch w) {
            int keys = causal ? Math.min(lk, q1) : lk;
            int lkPad = (keys + KB - 1) / KB * KB;
            float[] kt = w.keysT;
            packTransposed(kf, bi, h, 0, keys, kt, lkPad);
            float[] qs = w.rows;
            float[] s = w.p;
            float[] m = w.m;
            double[] l = w.l;
            int base = (bi * hh + h) * lq;
            for (int i0 = q0; i0 < q1; i0 += QB) {
                int rows = Math.min(QB, q1 - i0), rows4 = (rows + 3) & ~3;
                Arrays.fill(qs, 0f);
                packRows(qf, lq, bi, h, i0, i0 + rows, scale, qs, 0);
                Arrays.fill(m, Float.NEGATIVE_INFINITY);
                Arrays.fill(l, 0);
                int tileKeys = causal ? Math.min(keys, i0 + rows) : keys;
                for (int j0 = 0; j0 < tileKeys; j0 += KB) {
                    int valid = Math.min(KB, tileKeys - j0), vw = (valid + L - 1) / L * L;
                    Kernels.dots(qs, 0, dp, kt, j0, lkPad, dh, s, rows4, vw);
                    for (int r = 0; r < rows; r++) {
                        int limit = visible(i0 + r, j0, valid);
                        if (limit <= 0) {
                            continue;
                        }
                        int at = r * KB;
                        Arrays.fill(s, at + limit, at + vw, Float.NEGATIVE_INFINITY);
                        FloatVector mx = FloatVector.fromArray(S, s, at);
                        for (int j = L; j < vw; j += L) {
                            mx = mx.max(FloatVector.fromArray(S, s, at + j));
                        }
                        float mNew = Math.max(m[r], mx.reduceLanes(VectorOperators.MAX));
                        l[r] = l[r] * Math.exp((double) m[r] - mNew) + Pointwise.expShifted(s, at, vw, mNew, null, 0);
                        m[r] = mNew;
                    }
                }
                for (int r = 0; r < rows; r++) {
                    lse[base + i0 + r] = (float) (m[r] + Math.log(l[r]));
                }
            }
            for (int i = q0; i < q1; i++) {
                int at = (bi * lq + i) * width + h * dh;
                delta[base + i] = (float) NormsBackward.dot(of.a(), of.off() + at, gf.a(), gf.off() + at, dh);
            }
        }

        /**
         * Phase 2: dK and dV of keys [k0, k1) of (bi, h), written into dk and dv; returns this chunk's unscaled
         * dQ contribution for every query, [lqPad, dp].
         */
        private float[] keyChunk(int bi, int h, int k0, int k1, float[] dk, float[] dv, Scratch w) {
            int qStart = causal ? k0 / QB * QB : 0;
            if (qStart >= lq) {
                return new float[lqPad * dp];
            }
            // rows below qStart are never read; those from lq on, and the columns from dh on, stay zero
            float[] qs = w.qs, gs = w.gs, dqAcc = new float[lqPad * dp];
            packRows(qf, lq, bi, h, qStart, lq, scale, qs, qStart);
            packRows(gf, lq, bi, h, qStart, lq, 1f, gs, qStart);
            float[] kt = w.kt, vt = w.vt, kp = w.kp;
            float[] dkAcc = w.dkAcc, dvAcc = w.dvAcc;
            float[] p = w.p, ds = w.ds;
            int base = (bi * hh + h) * lq;
            for (int j0 = k0; j0 < k1; j0 += KB) {
                int valid = Math.min(KB, k1 - j0), vw = (valid + L - 1) / L * L, valid4 = (valid + 3) & ~3;
                packTransposed(kf, bi, h, j0, valid, kt, KB);
                packTransposed(vf, bi, h, j0, valid, vt, KB);
                Arrays.fill(kp, 0f);
                packRows(kf, lk, bi, h, j0, j0 + valid, 1f, kp, 0);
                Arrays.fill(dkAcc, 0f);
                Arrays.fill(dvAcc, 0f);
                for (int i0 = causal ? j0 / QB * QB : 0; i0 < lq; i0 += QB) {
                    int rows = Math.min(QB, lq - i0), rows4 = (rows + 3) & ~3;
                    Kernels.dots(qs, i0 * dp, dp, kt, 0, KB, dh, p, rows4, vw);      // S = Qs K^T
                    Kernels.dots(gs, i0 * dp, dp, vt, 0, KB, dh, ds, rows4, vw);     // dP = dO V^T
                    for (int r = 0; r < rows4; r++) {
                        int at = r * KB;
                        int limit = r < rows ? Math.max(0, visible(i0 + r, j0, valid)) : 0;
                        if (limit == 0) {
                            Arrays.fill(p, at, at + vw, 0f);
                            Arrays.fill(ds, at, at + vw, 0f);
                            continue;
                        }
                        scoreGradients(p, ds, at, vw, lse[base + i0 + r], delta[base + i0 + r]);
                        if (limit < vw) {
                            Arrays.fill(p, at + limit, at + vw, 0f);
                            Arrays.fill(ds, at + limit, at + vw, 0f);
                        }
                    }
                    Kernels.accumulate(p, 1, KB, valid4, rows, gs, i0 * dp, dp, dvAcc, 0, dp);   // dV += P^T dO
                    Kernels.accumulate(ds, 1, KB, valid4, rows, qs, i0 * dp, dp, dkAcc, 0, dp);  // dK += dS^T Qs
                    Kernels.accumulate(ds, KB, 1, rows4, valid, kp, 0, dp, dqAcc, i0 * dp, dp);  // dQ += dS K
                }
                for (int j = 0; j < valid; j++) {
                    int at = (bi * lk + j0 + j) * width + h * dh;
                    System.arraycopy(dkAcc, j * dp, dk, at, dh);
                    System.arraycopy(dvAcc, j * dp, dv, at, dh);
                }
            }
            return dqAcc;
        }
    }

    /**
     * One row of a tile: p := P = e^(S - lse) from the scores S in p, ds := dS = P (dP - delta) from dP in ds, over
     * n lanes (a multiple of L). S - lse <= 0 (lse is at least the row's largest score), so the forward softmax's
     * expNonPositive serves. A method of its own so that the exp is inlined in its loop (see Pointwise.expShifted).
     */
    private static void scoreGradients(float[] p, float[] ds, int at, int n, float lse, float delta) {
        for (int j = 0; j < n; j += L) {
            FloatVector pv = Pointwise.expNonPositive(FloatVector.fromArray(S, p, at + j).sub(lse));
            pv.intoArray(p, at + j);
            pv.mul(FloatVector.fromArray(S, ds, at + j).sub(delta)).intoArray(ds, at + j);
        }
    }

    /**
     * A worker's tiles for one call: phase 1's transposed keys (all of a head's) and query rows, phase 2's packed
     * queries and output gradients [lqPad, dp], key tile operands and accumulators, and the score tiles.
     */
    private static final class Scratch {
        final float[] keysT, rows, qs, gs, kt, vt, kp, dkAcc, dvAcc, p, ds, m;
        final double[] l;

        Scratch(int dh, int dp, int lqPad, int lkPad) {
            keysT = new float[dh * lkPad];
            rows = new float[QB * dp];
            qs = new float[lqPad * dp];
            gs = new float[lqPad * dp];
            kt = new float[dh * KB];
            vt = new float[dh * KB];
            kp = new float[KB * dp];
            dkAcc = new float[KB * dp];
            dvAcc = new float[KB * dp];
            p = new float[QB * KB];
            ds = new float[QB * KB];
            m = new float[QB];
            l = new double[QB];
        }
    }

    /** The register-tiled products of the backward pass. */
    static final class Kernels {
        private Kernels() {
        }

        /**
         * c[r * KB + col] = sum_e a[aAt + r * aStride + e] bt[btAt + e * btStride + col] for r < rows (a multiple of
         * 4) and col < width (a multiple of L, at most KB): a row-major left operand against a transposed right one.
         */
        static void dots(float[] a, int aAt, int aStride, float[] bt, int btAt, int btStride, int depth, float[] c, int rows, int width) {
            for (int r = 0; r < rows; r += 4) {
                if (width == KB) {
                    dots4x4(a, aAt + r * aStride, aStride, bt, btAt, btStride, depth, c, r * KB);
                } else {
                    for (int col = 0; col < width; col += L) {
                        dots4x1(a, aAt + r * aStride, aStride, bt, btAt + col, btStride, depth, c, r * KB + col);
                    }
                }
            }
        }

        /** c[cAt + r * KB + 0..4L) = a[aAt + r * aStride + e] . bt[btAt + e * btStride + 0..4L), r < 4. */
        private static void dots4x4(float[] a, int aAt, int aStride, float[] bt, int btAt, int btStride, int depth, float[] c, int cAt) {
            FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
            FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
            FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
            FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
            int a0 = aAt, a1 = a0 + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
            for (int e = 0; e < depth; e++) {
                int at = btAt + e * btStride;
                FloatVector b0 = FloatVector.fromArray(S, bt, at);
                FloatVector b1 = FloatVector.fromArray(S, bt, at + L);
                FloatVector b2 = FloatVector.fromArray(S, bt, at + 2 * L);
                FloatVector b3 = FloatVector.fromArray(S, bt, at + 3 * L);
                FloatVector x = FloatVector.broadcast(S, a[a0 + e]);
                c00 = x.fma(b0, c00);
                c01 = x.fma(b1, c01);
                c02 = x.fma(b2, c02);
                c03 = x.fma(b3, c03);
                x = FloatVector.broadcast(S, a[a1 + e]);
                c10 = x.fma(b0, c10);
                c11 = x.fma(b1, c11);
                c12 = x.fma(b2, c12);
                c13 = x.fma(b3, c13);
                x = FloatVector.broadcast(S, a[a2 + e]);
                c20 = x.fma(b0, c20);
                c21 = x.fma(b1, c21);
                c22 = x.fma(b2, c22);
                c23 = x.fma(b3, c23);
                x = FloatVector.broadcast(S, a[a3 + e]);
                c30 = x.fma(b0, c30);
                c31 = x.fma(b1, c31);
                c32 = x.fma(b2, c32);
                c33 = x.fma(b3, c33);
            }
            c00.intoArray(c, cAt);
            c01.intoArray(c, cAt + L);
            c02.intoArray(c, cAt + 2 * L);
            c03.intoArray(c, cAt + 3 * L);
            c10.intoArray(c, cAt + KB);
            c11.intoArray(c, cAt + KB + L);
            c12.intoArray(c, cAt + KB + 2 * L);
            c13.intoArray(c, cAt + KB + 3 * L);
            c20.intoArray(c, cAt + 2 * KB);
            c21.intoArray(c, cAt + 2 * KB + L);
            c22.intoArray(c, cAt + 2 * KB + 2 * L);
            c23.intoArray(c, cAt + 2 * KB + 3 * L);
            c30.intoArray(c, cAt + 3 * KB);
            c31.intoArray(c, cAt + 3 * KB + L);
            c32.intoArray(c, cAt + 3 * KB + 2 * L);
            c33.intoArray(c, cAt + 3 * KB + 3 * L);
        }

        /** The one-vector edge of dots4x4. */
        private static void dots4x1(float[] a, int aAt, int aStride, float[] bt, int btAt, int btStride, int depth, float[] c, int cAt) {
            FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
            int a0 = aAt, a1 = a0 + aStride, a2 = a1 + aStride, a3 = a2 + aStride;
            for (int e = 0; e < depth; e++) {
                FloatVector b0 = FloatVector.fromArray(S, bt, btAt + e * btStride);
                c0 = FloatVector.broadcast(S, a[a0 + e]).fma(b0, c0);
                c1 = FloatVector.broadcast(S, a[a1 + e]).fma(b0, c1);
                c2 = FloatVector.broadcast(S, a[a2 + e]).fma(b0, c2);
                c3 = FloatVector.broadcast(S, a[a3 + e]).fma(b0, c3);
            }
            c0.intoArray(c, cAt);
            c1.intoArray(c, cAt + KB);
            c2.intoArray(c, cAt + 2 * KB);
            c3.intoArray(c, cAt + 3 * KB);
        }

        /**
         * c[cAt + r * cStride + e] += sum_t a[r * aRow + t * aStep] b[bAt + t * bStride + e] for r < rows (a multiple
         * of 4), t < depth, e < cols (a multiple of L). With (aRow, aStep) = (KB, 1) a is a row-major tile, with
         * (1, KB) its transpose.
         */
        static void accumulate(float[] a, int aRow, int aStep, int rows, int depth, float[] b, int bAt, int bStride,
                               float[] c, int cAt, int cStride) {
            int cols = cStride;
            for (int r = 0; r < rows; r += 4) {
                int n = cols / L, col = 0;
                // three-vector strips, then two or one (four left over go as two and two)
                while (n > 4 || n == 3) {
                    acc4x3(a, r * aRow, aRow, aStep, depth, b, bAt + col, bStride, c, cAt + r * cStride + col, cStride);
                    col += 3 * L;
                    n -= 3;
                }
                while (n >= 2) {
                    acc4x2(a, r * aRow, aRow, aStep, depth, b, bAt + col, bStride, c, cAt + r * cStride + col, cStride);
                    col += 2 * L;
                    n -= 2;
                }
                if (n == 1) {
                    acc4x1(a, r * aRow, aRow, aStep, depth, b, bAt + col, bStride, c, cAt + r * cStride + col, cStride);
                }
            }
        }

        private static void acc4x3(float[] a, int aAt, int aRow, int aStep, int depth, float[] b, int bAt, int bStride,
                                   float[] c, int cAt, int cStride) {
            int o0 = cAt, o1 = o0 + cStride, o2 = o1 + cStride, o3 = o2 + cStride;
            FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S), c02 = FloatVector.zero(S);
            FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S), c12 = FloatVector.zero(S);
            FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S), c22 = FloatVector.zero(S);
            FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S), c32 = FloatVector.zero(S);
            int a0 = aAt, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
            for (int t = 0; t < depth; t++) {
                int at = bAt + t * bStride, ta = t * aStep;
                FloatVector b0 = FloatVector.fromArray(S, b, at);
                FloatVector b1 = FloatVector.fromArray(S, b, at + L);
                FloatVector b2 = FloatVector.fromArray(S, b, at + 2 * L);
                FloatVector x = FloatVector.broadcast(S, a[a0 + ta]);
                c00 = x.fma(b0, c00);
                c01 = x.fma(b1, c01);
                c02 = x.fma(b2, c02);
                x = FloatVector.broadcast(S, a[a1 + ta]);
                c10 = x.fma(b0, c10);
                c11 = x.fma(b1, c11);
                c12 = x.fma(b2, c12);
                x = FloatVector.broadcast(S, a[a2 + ta]);
                c20 = x.fma(b0, c20);
                c21 = x.fma(b1, c21);
                c22 = x.fma(b2, c22);
                x = FloatVector.broadcast(S, a[a3 + ta]);
                c30 = x.fma(b0, c30);
                c31 = x.fma(b1, c31);
                c32 = x.fma(b2, c32);
            }
            c00.add(FloatVector.fromArray(S, c, o0)).intoArray(c, o0);
            c01.add(FloatVector.fromArray(S, c, o0 + L)).intoArray(c, o0 + L);
            c02.add(FloatVector.fromArray(S, c, o0 + 2 * L)).intoArray(c, o0 + 2 * L);
            c10.add(FloatVector.fromArray(S, c, o1)).intoArray(c, o1);
            c11.add(FloatVector.fromArray(S, c, o1 + L)).intoArray(c, o1 + L);
            c12.add(FloatVector.fromArray(S, c, o1 + 2 * L)).intoArray(c, o1 + 2 * L);
            c20.add(FloatVector.fromArray(S, c, o2)).intoArray(c, o2);
            c21.add(FloatVector.fromArray(S, c, o2 + L)).intoArray(c, o2 + L);
            c22.add(FloatVector.fromArray(S, c, o2 + 2 * L)).intoArray(c, o2 + 2 * L);
            c30.add(FloatVector.fromArray(S, c, o3)).intoArray(c, o3);
            c31.add(FloatVector.fromArray(S, c, o3 + L)).intoArray(c, o3 + L);
            c32.add(FloatVector.fromArray(S, c, o3 + 2 * L)).intoArray(c, o3 + 2 * L);
        }

        private static void acc4x2(float[] a, int aAt, int aRow, int aStep, int depth, float[] b, int bAt, int bStride,
                                   float[] c, int cAt, int cStride) {
            int o0 = cAt, o1 = o0 + cStride, o2 = o1 + cStride, o3 = o2 + cStride;
            FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
            FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
            FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
            FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
            int a0 = aAt, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
            for (int t = 0; t < depth; t++) {
                int at = bAt + t * bStride, ta = t * aStep;
                FloatVector b0 = FloatVector.fromArray(S, b, at);
                FloatVector b1 = FloatVector.fromArray(S, b, at + L);
                FloatVector x = FloatVector.broadcast(S, a[a0 + ta]);
                c00 = x.fma(b0, c00);
                c01 = x.fma(b1, c01);
                x = FloatVector.broadcast(S, a[a1 + ta]);
                c10 = x.fma(b0, c10);
                c11 = x.fma(b1, c11);
                x = FloatVector.broadcast(S, a[a2 + ta]);
                c20 = x.fma(b0, c20);
                c21 = x.fma(b1, c21);
                x = FloatVector.broadcast(S, a[a3 + ta]);
                c30 = x.fma(b0, c30);
                c31 = x.fma(b1, c31);
            }
            c00.add(FloatVector.fromArray(S, c, o0)).intoArray(c, o0);
            c01.add(FloatVector.fromArray(S, c, o0 + L)).intoArray(c, o0 + L);
            c10.add(FloatVector.fromArray(S, c, o1)).intoArray(c, o1);
            c11.add(FloatVector.fromArray(S, c, o1 + L)).intoArray(c, o1 + L);
            c20.add(FloatVector.fromArray(S, c, o2)).intoArray(c, o2);
            c21.add(FloatVector.fromArray(S, c, o2 + L)).intoArray(c, o2 + L);
            c30.add(FloatVector.fromArray(S, c, o3)).intoArray(c, o3);
            c31.add(FloatVector.fromArray(S, c, o3 + L)).intoArray(c, o3 + L);
        }

        private static void acc4x1(float[] a, int aAt, int aRow, int aStep, int depth, float[] b, int bAt, int bStride,
                                   float[] c, int cAt, int cStride) {
            int o0 = cAt, o1 = o0 + cStride, o2 = o1 + cStride, o3 = o2 + cStride;
            FloatVector c0 = FloatVector.zero(S), c1 = FloatVector.zero(S);
            FloatVector c2 = FloatVector.zero(S), c3 = FloatVector.zero(S);
            int a0 = aAt, a1 = a0 + aRow, a2 = a1 + aRow, a3 = a2 + aRow;
            for (int t = 0; t < depth; t++) {
                FloatVector b0 = FloatVector.fromArray(S, b, bAt + t * bStride);
                int ta = t * aStep;
                c0 = FloatVector.broadcast(S, a[a0 + ta]).fma(b0, c0);
                c1 = FloatVector.broadcast(S, a[a1 + ta]).fma(b0, c1);
                c2 = FloatVector.broadcast(S, a[a2 + ta]).fma(b0, c2);
                c3 = FloatVector.broadcast(S, a[a3 + ta]).fma(b0, c3);
            }
            c0.add(FloatVector.fromArray(S, c, o0)).intoArray(c, o0);
            c1.add(FloatVector.fromArray(S, c, o1)).intoArray(c, o1);
            c2.add(FloatVector.fromArray(S, c, o2)).intoArray(c, o2);
            c3.add(FloatVector.fromArray(S, c, o3)).intoArray(c, o3);
        }
    }
}
