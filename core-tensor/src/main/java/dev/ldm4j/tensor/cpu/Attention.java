// Multi-head scaled dot-product attention on token-major q [B, Lq, H*D], k, v [B, Lk, H*D], computed
// flash-style: for a block of QB queries, keys are visited in steps of SW (four KB-wide score tiles) with an
// online softmax (running row max m and running sum l), so no [Lq, Lk] score matrix is ever stored; per
// worker the scratch is one head's K^T (in KB-key tiles) and V, D x Lk each, plus a QB x SW score tile.
// Reference: Dao et al., "FlashAttention", NeurIPS 2022, algorithm 1; Milakov and Gimelshein,
// "Online normalizer calculation for softmax", 2018.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

final class Attention {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Keys per score tile: four vectors, the width of the score micro-kernel. */
    static final int KB = 4 * L;
    /**
     * Keys per online-softmax step: four score tiles. The step's fixed costs (the row's maximum across lanes, the
     * scalar exp of the correction, rescaling the output row, the sum across lanes) are then paid once per 256 keys
     * rather than per 64, which weighs where a key's products are short: SD 1.5's self-attention over 4096 tokens
     * (head size 40) took 421-427 ms a call against 455-465 ms before, 2 threads, in turn (2026-12-03); 1024 tokens of
     * head size 80 and 256 of 160 were 5-13% faster. The score tile's row stride is this constant, so that its
     * indices fold into the compiled code (a stride read from a field made head size 80 12% slower).
     */
    static final int SW = 4 * KB;
    /** Queries per block. */
    static final int QB = 32;

    private Attention() {
    }

    static Tensor forward(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        int[] d = Shapes.attention("attention", q, k, v, heads);
        int b = d[0], lq = d[1], lk = d[2], hh = d[3], dh = d[4];
        int width = hh * dh;
        float[] out = new float[Math.toIntExact((long) b * lq * width)];
        if (out.length == 0) {
            return Tensor.of(out, b, lq, width);
        }
        Views.Flat qf = Views.flat(q), kf = Views.flat(k), vf = Views.flat(v);
        int qBlocks = (lq + QB - 1) / QB;
        // split each (batch, head) into query chunks only when there are too few heads to go round
        int chunks = Math.min(qBlocks, Math.max(1, (2 * Parallel.THREADS + b * hh - 1) / (b * hh)));
        int blocksPerChunk = (qBlocks + chunks - 1) / chunks;
        int lkPad = (lk + KB - 1) / KB * KB;
        int dp = (dh + L - 1) / L * L;
        // scratch per worker, not per task (at training sizes a task is a megaFLOP or less)
        Block[] blocks = new Block[Parallel.THREADS];
        Parallel.forEach(b * hh * chunks, (task, worker) -> {
            int chunk = task % chunks;
            int h = (task / chunks) % hh;
            int bi = task / (chunks * hh);
            int q0 = chunk * blocksPerChunk * QB;
            int q1 = Math.min(lq, q0 + blocksPerChunk * QB);
            if (q0 >= q1) {
                return;
            }
            if (blocks[worker] == null) {
                blocks[worker] = new Block(dh, dp, lkPad);
            }
            Block blk = blocks[worker];
            // this head's keys transposed in KB-key tiles (key j's element e at kt[j / KB * dh * KB + e * KB + j % KB])
            // and its values, vp[j * dp + e], zero-padded. A score tile reads one contiguous dh x KB block: with K^T
            // as whole rows (e at e * lkPad), 4096 keys put its dh rows 16 KB apart, all in one L1 set, and the
            // 4096-token self-attention ran 7% slower (2026-12-03, 418 against 389 ms a call in turn). Keys from
            // keysNeeded on may hold an earlier task's (causal): their scores are masked, their values unread.
            float[] kt = blk.kt;
            float[] vp = blk.vp;
            int keysNeeded = causal ? Math.min(lk, q1) : lk;
            for (int j = 0; j < keysNeeded; j++) {
                int kAt = kf.off() + (bi * lk + j) * width + h * dh;
                int vAt = vf.off() + (bi * lk + j) * width + h * dh;
                int tAt = j / KB * dh * KB + j % KB;
                for (int e = 0; e < dh; e++) {
                    kt[tAt + e * KB] = kf.a()[kAt + e];
                }
                System.arraycopy(vf.a(), vAt, vp, j * dp, dh);
            }
            for (int i0 = q0; i0 < q1; i0 += QB) {
                int rows = Math.min(QB, q1 - i0);
                for (int r = 0; r < QB; r++) {
                    if (r < rows) {
                        int qAt = qf.off() + (bi * lq + i0 + r) * width + h * dh;
                        for (int e = 0; e < dh; e++) {
                            blk.q[r * dh + e] = qf.a()[qAt + e] * scale;
                        }
                    } else {
                        Arrays.fill(blk.q, r * dh, (r + 1) * dh, 0f);
                    }
                }
                blk.run(kt, vp, causal ? Math.min(lk, i0 + rows) : lk, i0, rows, causal);
                for (int r = 0; r < rows; r++) {
                    int oAt = (bi * lq + i0 + r) * width + h * dh;
                    float inv = (float) (1.0 / blk.l[r]);
                    for (int e = 0; e < dh; e++) {
                        out[oAt + e] = blk.o[r * dp + e] * inv;
                    }
                }
            }
        });
        return Tensor.of(out, b, lq, width);
    }

    /**
     * A worker's scratch: a head's packed keys and values, and one query block's state (scaled queries, score tile,
     * running max and sum, unnormalized output).
     */
    private static final class Block {
        final int dh, dp;
        final float[] q, s, o, m, l, kt, vp;

        Block(int dh, int dp, int lkPad) {
            this.dh = dh;
            this.dp = dp;
            kt = new float[dh * lkPad];
            vp = new float[lkPad * dp];
            q = new float[QB * dh];
            s = new float[QB * SW];
            o = new float[QB * dp];
            m = new float[QB];
            l = new float[QB];
        }

        /**
         * Attends rows i0..i0+rows-1 to keys [0, keys); causal rows see keys j <= i only. The products run over
         * rows rounded up to the micro-kernels' 4 (the padding rows' queries are zero), not over all QB: a block of
         * 16 queries (a 4x4 map) or the last 13 of 77 tokens costs what it holds.
         */
        void run(float[] kt, float[] vp, int keys, int i0, int rows, boolean causal) {
            int rows4 = Math.min(QB, (rows + 3) & ~3);
            Arrays.fill(m, Float.NEGATIVE_INFINITY);
            Arrays.fill(l, 0f);
            Arrays.fill(o, 0f);
            for (int j0 = 0; j0 < keys; j0 += SW) {
                int valid = Math.min(SW, keys - j0);
                // a short last block (77 text tokens) computes only the vectors that hold keys
                int width = (valid + L - 1) / L * L;
                // key tile by key tile, each used by every row group while it is in L1
                int c0 = 0;
                for (; c0 + KB <= width; c0 += KB) {
                    for (int r = 0; r < rows4; r += 4) {
                        scores4(kt, j0 + c0, r, c0);
                    }
                }
                for (; c0 < width; c0 += L) {
                    for (int r = 0; r < rows4; r += 4) {
                        scores4x1(kt, j0, r, c0);
                    }
                }
                boolean mask = valid < width || (causal && j0 + SW - 1 > i0);
                for (int r = 0; r < rows4; r++) {
                    if (mask) {
                        int limit = causal ? Math.min(valid, i0 + r - j0 + 1) : valid;
                        for (int j = Math.max(0, limit); j < width; j++) {
                            s[r * SW + j] = Float.NEGATIVE_INFINITY;
                        }
                    }
                    softmaxRow(r, width);
                }
                for (int r = 0; r < rows4; r += 4) {
                    for (int c = 0; c < dp; ) {
                        if (dp - c >= 3 * L) {
                            accumulate4x3(vp, j0, valid, r, c);
                            c += 3 * L;
                        } else {
                            accumulate4x1(vp, j0, valid, r, c);
                            c += L;
                        }
                    }
                }
            }
        }

        /** s[r..r+3][c..c+KB) = q[r..r+3] . kt[:, j0..j0+KB): a 4 x 4-vector register tile over e < dh. */
        private void scores4(float[] kt, int j0, int r, int c) {
            FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a03 = a00;
            FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
            FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
            FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            int q0 = r * dh, q1 = q0 + dh, q2 = q1 + dh, q3 = q2 + dh;
            for (int e = 0, at = j0 / KB * dh * KB; e < dh; e++, at += KB) {
                FloatVector k0 = FloatVector.fromArray(S, kt, at);
                FloatVector k1 = FloatVector.fromArray(S, kt, at + L);
                FloatVector k2 = FloatVector.fromArray(S, kt, at + 2 * L);
                FloatVector k3 = FloatVector.fromArray(S, kt, at + 3 * L);
                FloatVector x = FloatVector.broadcast(S, q[q0 + e]);
                a00 = x.fma(k0, a00);
                a01 = x.fma(k1, a01);
                a02 = x.fma(k2, a02);
                a03 = x.fma(k3, a03);
                x = FloatVector.broadcast(S, q[q1 + e]);
                a10 = x.fma(k0, a10);
                a11 = x.fma(k1, a11);
                a12 = x.fma(k2, a12);
                a13 = x.fma(k3, a13);
                x = FloatVector.broadcast(S, q[q2 + e]);
                a20 = x.fma(k0, a20);
                a21 = x.fma(k1, a21);
                a22 = x.fma(k2, a22);
                a23 = x.fma(k3, a23);
                x = FloatVector.broadcast(S, q[q3 + e]);
                a30 = x.fma(k0, a30);
                a31 = x.fma(k1, a31);
                a32 = x.fma(k2, a32);
                a33 = x.fma(k3, a33);
            }
            int at = r * SW + c;
            a00.intoArray(s, at);
            a01.intoArray(s, at + L);
            a02.intoArray(s, at + 2 * L);
            a03.intoArray(s, at + 3 * L);
            a10.intoArray(s, at + SW);
            a11.intoArray(s, at + SW + L);
            a12.intoArray(s, at + SW + 2 * L);
            a13.intoArray(s, at + SW + 3 * L);
            a20.intoArray(s, at + 2 * SW);
            a21.intoArray(s, at + 2 * SW + L);
            a22.intoArray(s, at + 2 * SW + 2 * L);
            a23.intoArray(s, at + 2 * SW + 3 * L);
            a30.intoArray(s, at + 3 * SW);
            a31.intoArray(s, at + 3 * SW + L);
            a32.intoArray(s, at + 3 * SW + 2 * L);
            a33.intoArray(s, at + 3 * SW + 3 * L);
        }

        /** s[r..r+3][c..c+L) = q[r..r+3] . kt[:, j0+c..j0+c+L): the one-vector edge of scores4. */
        private void scores4x1(float[] kt, int j0, int r, int c) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            int q0 = r * dh, q1 = q0 + dh, q2 = q1 + dh, q3 = q2 + dh;
            for (int e = 0, at = (j0 + c) / KB * dh * KB + (j0 + c) % KB; e < dh; e++, at += KB) {
                FloatVector k0 = FloatVector.fromArray(S, kt, at);
                a0 = FloatVector.broadcast(S, q[q0 + e]).fma(k0, a0);
                a1 = FloatVector.broadcast(S, q[q1 + e]).fma(k0, a1);
                a2 = FloatVector.broadcast(S, q[q2 + e]).fma(k0, a2);
                a3 = FloatVector.broadcast(S, q[q3 + e]).fma(k0, a3);
            }
            int at = r * SW + c;
            a0.intoArray(s, at);
            a1.intoArray(s, at + SW);
            a2.intoArray(s, at + 2 * SW);
            a3.intoArray(s, at + 3 * SW);
        }

        /** Online softmax step for row r over its first width scores: new max, rescale of l and o, s := exp(s - max). */
        private void softmaxRow(int r, int width) {
            int at = r * SW;
            FloatVector mx = FloatVector.fromArray(S, s, at);
            for (int j = L; j < width; j += L) {
                mx = mx.max(FloatVector.fromArray(S, s, at + j));
            }
            float blockMax = mx.reduceLanes(VectorOperators.MAX);
            float mNew = Math.max(m[r], blockMax);
            if (mNew == Float.NEGATIVE_INFINITY) {
                Arrays.fill(s, at, at + width, 0f); // a padding row or a row with no visible key yet
                return;
            }
            float corr = mNew == m[r] ? 1f : (float) Math.exp(m[r] - mNew);
            m[r] = mNew;
            l[r] = l[r] * corr + Pointwise.expShifted(s, at, width, mNew, s, at);
            if (corr != 1f) {
                for (int c = 0; c < dp; c += L) {
                    FloatVector.fromArray(S, o, r * dp + c).mul(corr).intoArray(o, r * dp + c);
                }
            }
        }

        /** o[r..r+3][c..c+3L) += p[r..r+3][0..nj) . vp[j0..j0+nj, c..c+3L). */
        private void accumulate4x3(float[] vp, int j0, int nj, int r, int c) {
            int o0 = r * dp + c, o1 = o0 + dp, o2 = o1 + dp, o3 = o2 + dp;
            FloatVector a00 = FloatVector.zero(S), a01 = FloatVector.zero(S), a02 = FloatVector.zero(S);
            FloatVector a10 = FloatVector.zero(S), a11 = FloatVector.zero(S), a12 = FloatVector.zero(S);
            FloatVector a20 = FloatVector.zero(S), a21 = FloatVector.zero(S), a22 = FloatVector.zero(S);
            FloatVector a30 = FloatVector.zero(S), a31 = FloatVector.zero(S), a32 = FloatVector.zero(S);
            int p0 = r * SW, p1 = p0 + SW, p2 = p1 + SW, p3 = p2 + SW;
            for (int j = 0; j < nj; j++) {
                int at = (j0 + j) * dp + c;
                FloatVector v0 = FloatVector.fromArray(S, vp, at);
                FloatVector v1 = FloatVector.fromArray(S, vp, at + L);
                FloatVector v2 = FloatVector.fromArray(S, vp, at + 2 * L);
                FloatVector x = FloatVector.broadcast(S, s[p0 + j]);
                a00 = x.fma(v0, a00);
                a01 = x.fma(v1, a01);
                a02 = x.fma(v2, a02);
                x = FloatVector.broadcast(S, s[p1 + j]);
                a10 = x.fma(v0, a10);
                a11 = x.fma(v1, a11);
                a12 = x.fma(v2, a12);
                x = FloatVector.broadcast(S, s[p2 + j]);
                a20 = x.fma(v0, a20);
                a21 = x.fma(v1, a21);
                a22 = x.fma(v2, a22);
                x = FloatVector.broadcast(S, s[p3 + j]);
                a30 = x.fma(v0, a30);
                a31 = x.fma(v1, a31);
                a32 = x.fma(v2, a32);
            }
            a00.add(FloatVector.fromArray(S, o, o0)).intoArray(o, o0);
            a01.add(FloatVector.fromArray(S, o, o0 + L)).intoArray(o, o0 + L);
            a02.add(FloatVector.fromArray(S, o, o0 + 2 * L)).intoArray(o, o0 + 2 * L);
            a10.add(FloatVector.fromArray(S, o, o1)).intoArray(o, o1);
            a11.add(FloatVector.fromArray(S, o, o1 + L)).intoArray(o, o1 + L);
            a12.add(FloatVector.fromArray(S, o, o1 + 2 * L)).intoArray(o, o1 + 2 * L);
            a20.add(FloatVector.fromArray(S, o, o2)).intoArray(o, o2);
            a21.add(FloatVector.fromArray(S, o, o2 + L)).intoArray(o, o2 + L);
            a22.add(FloatVector.fromArray(S, o, o2 + 2 * L)).intoArray(o, o2 + 2 * L);
            a30.add(FloatVector.fromArray(S, o, o3)).intoArray(o, o3);
            a31.add(FloatVector.fromArray(S, o, o3 + L)).intoArray(o, o3 + L);
            a32.add(FloatVector.fromArray(S, o, o3 + 2 * L)).intoArray(o, o3 + 2 * L);
        }

        /** o[r..r+3][c..c+L) += p[r..r+3][0..nj) . vp[j0..j0+nj, c..c+L). */
        private void accumulate4x1(float[] vp, int j0, int nj, int r, int c) {
            int o0 = r * dp + c, o1 = o0 + dp, o2 = o1 + dp, o3 = o2 + dp;
            FloatVector a0 = FloatVector.zero(S), a1 = FloatVector.zero(S);
            FloatVector a2 = FloatVector.zero(S), a3 = FloatVector.zero(S);
            int p0 = r * SW;
            for (int j = 0; j < nj; j++) {
                FloatVector v0 = FloatVector.fromArray(S, vp, (j0 + j) * dp + c);
                a0 = FloatVector.broadcast(S, s[p0 + j]).fma(v0, a0);
                a1 = FloatVector.broadcast(S, s[p0 + SW + j]).fma(v0, a1);
                a2 = FloatVector.broadcast(S, s[p0 + 2 * SW + j]).fma(v0, a2);
                a3 = FloatVector.broadcast(S, s[p0 + 3 * SW + j]).fma(v0, a3);
            }
            a0.add(FloatVector.fromArray(S, o, o0)).intoArray(o, o0);
            a1.add(FloatVector.fromArray(S, o, o1)).intoArray(o, o1);
            a2.add(FloatVector.fromArray(S, o, o2)).intoArray(o, o2);
            a3.add(FloatVector.fromArray(S, o, o3)).intoArray(o, o3);
        }
    }
}
