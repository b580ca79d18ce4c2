// Single-precision GEMM, C[M, N] = A[M, K] * B[K, N] (+ bias, activation), in the BLIS layout:
// B is packed into NR-column micro-panels per (KC x NC) block and A into MR-row micro-panels per
// (MC x KC) block, and an MR x NR register-blocked micro-kernel of Vector API FMAs runs over them.
// Packing goes through PackA/PackB, so the same kernel serves dense matrices, transposed linear
// weights in F16/BF16 (widened while packing, never in full) and convolution's implicit im2col.
// Reference: Goto and van de Geijn, "Anatomy of high-performance matrix multiplication", ACM TOMS
// 34(3), 2008; Van Zee and van de Geijn, "BLIS", ACM TOMS 41(3), 2015.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.Storage;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

final class Sgemm {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Micro-tile rows. */
    static final int MR = 8;
    /** Micro-tile columns: two vectors. */
    static final int NR = 2 * L;
    static final int KC = 512;
    static final int MC = 64;
    static final int NC = 1536;
    /**
     * Rows up to which gemm packs A whole and shares it among the workers (gemmShared): A's MR x KC blocks for all
     * rows, 256 x 512 floats, then stay in L2 while each worker runs every one of them over its own panels of B.
     */
    static final int SHARED_A_ROWS = 256;

    private Sgemm() {
    }

    /**
     * Writes rows i0..i0+mc-1, columns k0..k0+kc-1 of A as ceil(mc/MR) MR-row micro-panels, zero-padded, into dst
     * from dstOff on (panel p at dstOff + p * MR * kc).
     */
    interface PackA {
        void pack(int i0, int mc, int k0, int kc, float[] dst, int dstOff);
    }

    /**
     * Writes rows k0..k0+kc-1, columns j0..j0+nc-1 of B as ceil(nc/NR) NR-column micro-panels,
     * zero-padded, into dst from dstOff on (panel p at dstOff + p * NR * kc).
     */
    interface PackB {
        void pack(int k0, int kc, int j0, int nc, float[] dst, int dstOff);
    }

    /** Element (r, c) of a matrix is storage element off + r * rs + c * cs (any dtype the storage widens). */
    record Operand(Storage s, long off, long rs, long cs) {
    }

    static PackA packA(Operand a) {
        if (a.s() instanceof FloatStorage fs && a.cs() == 1) {
            return packRowMajorA(fs.data(), Math.toIntExact(a.off()), Math.toIntExact(a.rs()));
        }
        if (a.s() instanceof FloatStorage fs && a.rs() == 1) {
            return packColumnMajorA(fs.data(), Math.toIntExact(a.off()), Math.toIntExact(a.cs()));
        }
        return (i0, mc, k0, kc, dst, dstOff) -> {
            float[] row = new float[kc];
            for (int i = 0; i < mc; i++) {
                Views.copyRow(a.s(), a.off() + (long) (i0 + i) * a.rs() + (long) k0 * a.cs(), a.cs(), kc, row, 0);
                int base = dstOff + (i / MR) * MR * kc + (i % MR);
                for (int k = 0; k < kc; k++) {
                    dst[base + k * MR] = row[k];
                }
            }
            int padded = (mc + MR - 1) / MR * MR;
            for (int i = mc; i < padded; i++) {
                int base = dstOff + (i / MR) * MR * kc + (i % MR);
                for (int k = 0; k < kc; k++) {
                    dst[base + k * MR] = 0f;
                }
            }
        };
    }

    /** packA for a heap row-major matrix: element (i, k) at x[off + i * ld + k]. */
    static PackA packRowMajorA(float[] x, int off, int ld) {
        return (i0, mc, k0, kc, dst, dstOff) -> {
            for (int p = 0; p < mc; p += MR) {
                int rows = Math.min(MR, mc - p);
                int base = dstOff + p * kc;
                for (int r = 0; r < MR; r++) {
                    if (r < rows) {
                        int src = off + (i0 + p + r) * ld + k0;
                        for (int k = 0; k < kc; k++) {
                            dst[base + k * MR + r] = x[src + k];
                        }
                    } else {
                        for (int k = 0; k < kc; k++) {
                            dst[base + k * MR + r] = 0f;
                        }
                    }
                }
            }
        };
    }

    /**
     * packA for a heap column-major matrix (a transposed row-major one): element (i, k) at x[off + k * ld + i], so
     * each k of a micro-panel is a run of MR consecutive floats.
     */
    static PackA packColumnMajorA(float[] x, int off, int ld) {
        return (i0, mc, k0, kc, dst, dstOff) -> {
            for (int p = 0; p < mc; p += MR) {
                int rows = Math.min(MR, mc - p);
                int base = dstOff + p * kc;
                int src = off + k0 * ld + i0 + p;
                for (int k = 0; k < kc; k++, src += ld) {
                    int at = base + k * MR;
                    System.arraycopy(x, src, dst, at, rows);
                    if (rows < MR) {
                        java.util.Arrays.fill(dst, at + rows, at + MR, 0f);
                    }
                }
            }
        };
    }

    static PackB packB(Operand b) {
        return (k0, kc, j0, nc, dst, dstOff) -> {
            int panels = (nc + NR - 1) / NR;
            if (Math.abs(b.cs()) <= Math.abs(b.rs()) && b.cs() != 0) {
                // rows of B are the contiguous direction: copy NR-wide row pieces
                for (int p = 0; p < panels; p++) {
                    int w = Math.min(NR, nc - p * NR);
                    int base = dstOff + p * NR * kc;
                    for (int k = 0; k < kc; k++) {
                        Views.copyRow(b.s(), b.off() + (long) (k0 + k) * b.rs() + (long) (j0 + p * NR) * b.cs(), b.cs(), w, dst, base + k * NR);
                        for (int c = w; c < NR; c++) {
                            dst[base + k * NR + c] = 0f;
                        }
                    }
                }
            } else {
                // columns of B are the contiguous direction (a transposed weight): read each column along k
                float[] col = new float[kc];
                for (int p = 0; p < panels; p++) {
                    int w = Math.min(NR, nc - p * NR);
                    int base = dstOff + p * NR * kc;
                    for (int c = 0; c < NR; c++) {
                        if (c < w) {
                            Views.copyRow(b.s(), b.off() + (long) k0 * b.rs() + (long) (j0 + p * NR + c) * b.cs(), b.rs(), kc, col, 0);
                            for (int k = 0; k < kc; k++) {
                                dst[base + k * NR + c] = col[k];
                            }
                        } else {
                            for (int k = 0; k < kc; k++) {
                                dst[base + k * NR + c] = 0f;
                            }
                        }
                    }
                }
            }
        };
    }

    /** Bias and activation applied once the whole K sum is in C. */
    record Epilogue(float[] rowBias, float[] colBias, Activation act) {
        static final Epilogue NONE = new Epilogue(null, null, Activation.NONE);

        boolean isIdentity() {
            return rowBias == null && colBias == null && (act == null || act == Activation.NONE);
        }
    }

    /**
     * Where C's elements go: element (i, j) at off + i * ldc + (j / block) * blockStride + j % block. A plain
     * matrix has block = N; a convolution with its batch as columns has block = positions per image and
     * blockStride = one image's output, so C lands as [N, O, P] directly.
     */
    record Out(float[] c, int off, int ldc, int block, int blockStride) {
        static Out matrix(float[] c, int off, int ldc, int n) {
            return new Out(c, off, ldc, Math.max(1, n), 0);
        }

        int at(int i, int j) {
            return off + i * ldc + j / block * blockStride + j % block;
        }
    }

    /** C[cOff + i * ldc + j] = epilogue(sum_k A(i, k) B(k, j)) for i < M, j < N. */
    static void gemm(int m, int n, int k, PackA pa, PackB pb, float[] c, int cOff, int ldc, Epilogue ep) {
        gemm(m, n, k, pa, pb, c, cOff, ldc, ep, true);
    }

    /** As above; on the calling thread alone when parallel is false (callers that parallelize outside). */
    static void gemm(int m, int n, int k, PackA pa, PackB pb, float[] c, int cOff, int ldc, Epilogue ep, boolean parallel) {
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0) {
            for (int i = 0; i < m; i++) {
                java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
            }
            applyEpilogue(c, cOff, ldc, 0, m, 0, n, ep);
            return;
        }
        // sharing A pays where the blocked loop below would hand off to the pool more than once (several K blocks, or
        // B packed in parallel); where it hands off once, gemmShared's separate packing pass measured slower
        // (256 x 128 x 128: 104 against 135 GFLOP/s by CPU time)
        int panels = (n + NR - 1) / NR;
        if (parallel && m <= SHARED_A_ROWS && (k > KC || panels >= 8) && panels >= 2 * Parallel.THREADS) {
            gemmShared(m, n, k, pa, pb, Out.matrix(c, cOff, ldc, n), ep);
            return;
        }
        int threads = Parallel.THREADS;
        float[][] aBuf = new float[threads][];
        float[][] tile = new float[threads][];
        float[] bPack = new float[kcStepFor(k) * ((Math.min(NC, n) + NR - 1) / NR * NR)];
        int mBlocks = (m + MC - 1) / MC;
        // equal K blocks of at most KC (K = 640 runs as two blocks of 320, not 512 + 128)
        int kcStep = kcStepFor(k);
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            int nPanels = (nc + NR - 1) / NR;
            // at least 4 tasks per thread, so that uneven block counts (5 blocks of O = 320) still balance
            int groups = Math.max(1, Math.min(nPanels, (4 * threads + mBlocks - 1) / mBlocks));
            int panelsPerGroup = (nPanels + groups - 1) / groups;
            for (int pc = 0; pc < k; pc += kcStep) {
                int kc = Math.min(kcStep, k - pc);
                boolean first = pc == 0;
                boolean last = pc + kc == k;
                if (parallel) {
                    packBParallel(pb, pc, kc, jc, nc, bPack);
                } else {
                    pb.pack(pc, kc, jc, nc, bPack, 0);
                }
                int fjc = jc;
                int fpc = pc;
                Parallel.IndexBody block = (task, worker) -> {
                    int ib = task / groups;
                    int g = task % groups;
                    int ic = ib * MC;
                    int mc = Math.min(MC, m - ic);
                    if (aBuf[worker] == null) {
                        aBuf[worker] = new float[MC * kcStep];
                        tile[worker] = new float[MR * NR];
                    }
                    float[] ap = aBuf[worker];
                    pa.pack(ic, mc, fpc, kc, ap, 0);
                    int p0 = g * panelsPerGroup;
                    int p1 = Math.min(nPanels, p0 + panelsPerGroup);
                    for (int p = p0; p < p1; p++) {
                        int jr = p * NR;
                        int nr = Math.min(NR, nc - jr);
                        for (int ir = 0; ir < mc; ir += MR) {
                            int mr = Math.min(MR, mc - ir);
                            int cAt = cOff + (ic + ir) * ldc + fjc + jr;
                            kernel(kc, ap, ir * kc, bPack, p * NR * kc, tile[worker], 0);
                            flush(tile[worker], 0, c, cAt, ldc, mr, nr, !first);
                            if (last) {
                                applyEpilogue(c, cOff, ldc, ic + ir, mr, fjc + jr, nr, ep);
                            }
                        }
                    }
                };
                if (parallel) {
                    Parallel.forEach(mBlocks * groups, block);
                } else {
                    for (int task = 0; task < mBlocks * groups; task++) {
                        block.run(task, 0);
                    }
                }
            }
        }
    }

    /**
     * C = epilogue(A B) for a short A (M <= SHARED_A_ROWS), with one hand-off to the pool to pack A and one to
     * multiply: A is packed whole, its K blocks side by side, and read by every worker; the workers share out B's
     * NR-wide column panels, and each packs its panel one K block at a time and runs all of A's micro-panels over
     * it, summing into an M x NR buffer that goes to C once, through out. (gemm's blocked loop instead hands off
     * twice per K block and packs A again in every task, which at training sizes, tens of megaFLOP per product,
     * cost as much as the FMAs.) Every element is the sum of the same K blocks in the same order as in gemm, by
     * the same micro-kernel, so the result is gemm's bit for bit, whatever the thread count.
     */
    static void gemmShared(int m, int n, int k, PackA pa, PackB pb, Out out, Epilogue ep) {
        if (m == 0 || n == 0) {
            return;
        }
        int mPad = (m + MR - 1) / MR * MR, mPanels = mPad / MR;
        int kcStep = k == 0 ? 1 : kcStepFor(k);
        int kBlocks = (k + kcStep - 1) / kcStep;
        // K block kb from kb * mPad * kcStep on, holding all rows' micro-panels as pa writes them
        float[] a = new float[Math.toIntExact((long) mPad * k)];
        Parallel.forRange(kBlocks * mPanels, 8, (from, to, worker) -> {
            for (int t = from; t < to; t++) {
                int kb = t / mPanels, i0 = t % mPanels * MR;
                int k0 = kb * kcStep, kc = Math.min(kcStep, k - k0);
                pa.pack(i0, Math.min(MR, m - i0), k0, kc, a, kb * mPad * kcStep + i0 * kc);
            }
        });
        Parallel.forRange((n + NR - 1) / NR, 1, (from, to, worker) -> {
            float[] b = new float[kcStep * NR];
            float[] sum = new float[mPad * NR];
            float[] tile = new float[MR * NR];
            for (int p = from; p < to; p++) {
                int j0 = p * NR, nr = Math.min(NR, n - j0);
                for (int kb = 0; kb < kBlocks; kb++) {
                    int k0 = kb * kcStep, kc = Math.min(kcStep, k - k0);
                    pb.pack(k0, kc, j0, nr, b, 0);
                    int aAt = kb * mPad * kcStep;
                    for (int ir = 0; ir < mPad; ir += MR) {
                        if (kb == 0) {
                            kernel(kc, a, aAt + ir * kc, b, 0, sum, ir * NR);
                        } else {
                            kernel(kc, a, aAt + ir * kc, b, 0, tile, 0);
                            flush(tile, 0, sum, ir * NR, NR, MR, NR, true);
                        }
                    }
                }
                store(sum, m, j0, nr, out, ep);
            }
        });
    }

    /** Rows 0..m-1, columns 0..nr-1 of a panel sum [mPad, NR] to C's columns j0.. through out, then the epilogue. */
    private static void store(float[] sum, int m, int j0, int nr, Out out, Epilogue ep) {
        boolean epilogue = ep != null && !ep.isIdentity();
        // a convolution's epilogue is only its bias, one per row: added while copying (c + bias, as biasActivation adds it)
        boolean rowBiasOnly = epilogue && ep.colBias() == null && (ep.act() == null || ep.act() == Activation.NONE);
        for (int i = 0; i < m; i++) {
            float rb = epilogue && ep.rowBias() != null ? ep.rowBias()[i] : 0f;
            for (int j = 0; j < nr; ) {
                int run = Math.min(nr - j, out.block() - (j0 + j) % out.block());
                int at = out.at(i, j0 + j);
                if (rowBiasOnly) {
                    Pointwise.addScalar(sum, i * NR + j, rb, out.c(), at, run);
                } else {
                    System.arraycopy(sum, i * NR + j, out.c(), at, run);
                    if (epilogue) {
                        Pointwise.biasActivation(out.c(), at, run, rb, ep.colBias(), j0 + j, ep.act());
                    }
                }
                j += run;
            }
        }
    }

    private static int kcStepFor(int k) {
        int blocks = (k + KC - 1) / KC;
        return (k + blocks - 1) / blocks;
    }

    private static void packBParallel(PackB pb, int k0, int kc, int j0, int nc, float[] dst) {
        int panels = (nc + NR - 1) / NR;
        Parallel.forRange(panels, 4, (from, to, worker) -> {
            int cols = Math.min(nc, to * NR) - from * NR;
            pb.pack(k0, kc, j0 + from * NR, cols, dst, from * NR * kc);
        });
    }

    static void applyEpilogue(float[] c, int cOff, int ldc, int i0, int mr, int j0, int nr, Epilogue ep) {
        if (ep == null || ep.isIdentity()) {
            return;
        }
        for (int i = i0; i < i0 + mr; i++) {
            int at = cOff + i * ldc + j0;
            float rb = ep.rowBias() == null ? 0f : ep.rowBias()[i];
            Pointwise.biasActivation(c, at, nr, rb, ep.colBias(), j0, ep.act());
        }
    }

    /**
     * tile[tOff + i * NR + j] = sum over one K block of A(i, k) B(k, j): the MR x NR micro-kernel, on an A micro-panel
     * (MR x kc, k-major) and a B micro-panel (kc x NR). It has no branch, and its 16 stores go to fixed offsets of a
     * contiguous tile; adding to C and cutting edge tiles are flush's work. This shape is deliberate: in an earlier
     * version that chose the store's target and an accumulate-or-not value by branches, C2 sometimes failed to
     * intrinsify the stores of values merged by those branches, and then boxed every FMA result of the loop on the
     * heap; such a JVM ran training steps 3-5x slower for its whole life (bench/TRAIN-RESULTS.md, 2026-12-03).
     */
    static void kernel(int kc, float[] a, int aOff, float[] b, int bOff, float[] tile, int tOff) {
        FloatVector c00 = FloatVector.zero(S), c01 = FloatVector.zero(S);
        FloatVector c10 = FloatVector.zero(S), c11 = FloatVector.zero(S);
        FloatVector c20 = FloatVector.zero(S), c21 = FloatVector.zero(S);
        FloatVector c30 = FloatVector.zero(S), c31 = FloatVector.zero(S);
        FloatVector c40 = FloatVector.zero(S), c41 = FloatVector.zero(S);
        FloatVector c50 = FloatVector.zero(S), c51 = FloatVector.zero(S);
        FloatVector c60 = FloatVector.zero(S), c61 = FloatVector.zero(S);
        FloatVector c70 = FloatVector.zero(S), c71 = FloatVector.zero(S);
        int ai = aOff, bi = bOff;
        for (int k = 0; k < kc; k++, ai += MR, bi += NR) {
            FloatVector b0 = FloatVector.fromArray(S, b, bi);
            FloatVector b1 = FloatVector.fromArray(S, b, bi + L);
            FloatVector av = FloatVector.broadcast(S, a[ai]);
            c00 = av.fma(b0, c00);
            c01 = av.fma(b1, c01);
            av = FloatVector.broadcast(S, a[ai + 1]);
            c10 = av.fma(b0, c10);
            c11 = av.fma(b1, c11);
            av = FloatVector.broadcast(S, a[ai + 2]);
            c20 = av.fma(b0, c20);
            c21 = av.fma(b1, c21);
            av = FloatVector.broadcast(S, a[ai + 3]);
            c30 = av.fma(b0, c30);
            c31 = av.fma(b1, c31);
            av = FloatVector.broadcast(S, a[ai + 4]);
            c40 = av.fma(b0, c40);
            c41 = av.fma(b1, c41);
            av = FloatVector.broadcast(S, a[ai + 5]);
            c50 = av.fma(b0, c50);
            c51 = av.fma(b1, c51);
            av = FloatVector.broadcast(S, a[ai + 6]);
            c60 = av.fma(b0, c60);
            c61 = av.fma(b1, c61);
            av = FloatVector.broadcast(S, a[ai + 7]);
            c70 = av.fma(b0, c70);
            c71 = av.fma(b1, c71);
        }
        c00.intoArray(tile, tOff);
        c01.intoArray(tile, tOff + L);
        c10.intoArray(tile, tOff + NR);
        c11.intoArray(tile, tOff + NR + L);
        c20.intoArray(tile, tOff + 2 * NR);
        c21.intoArray(tile, tOff + 2 * NR + L);
        c30.intoArray(tile, tOff + 3 * NR);
        c31.intoArray(tile, tOff + 3 * NR + L);
        c40.intoArray(tile, tOff + 4 * NR);
        c41.intoArray(tile, tOff + 4 * NR + L);
        c50.intoArray(tile, tOff + 5 * NR);
        c51.intoArray(tile, tOff + 5 * NR + L);
        c60.intoArray(tile, tOff + 6 * NR);
        c61.intoArray(tile, tOff + 6 * NR + L);
        c70.intoArray(tile, tOff + 7 * NR);
        c71.intoArray(tile, tOff + 7 * NR + L);
    }

    /** C's mr x nr corner at cOff (row stride ldc) = tile's, or C + tile when accumulate (tile rows NR apart). */
    static void flush(float[] tile, int tOff, float[] c, int cOff, int ldc, int mr, int nr, boolean accumulate) {
        if (nr == NR && accumulate) {
            for (int i = 0; i < mr; i++) {
                int row = cOff + i * ldc, t = tOff + i * NR;
                FloatVector.fromArray(S, tile, t).add(FloatVector.fromArray(S, c, row)).intoArray(c, row);
                FloatVector.fromArray(S, tile, t + L).add(FloatVector.fromArray(S, c, row + L)).intoArray(c, row + L);
            }
        } else if (nr == NR) {
            for (int i = 0; i < mr; i++) {
                System.arraycopy(tile, tOff + i * NR, c, cOff + i * ldc, NR);
            }
        } else {
            for (int i = 0; i < mr; i++) {
                int row = cOff + i * ldc, t = tOff + i * NR;
                for (int j = 0; j < nr; j++) {
                    c[row + j] = accumulate ? c[row + j] + tile[t + j] : tile[t + j];
                }
            }
        }
    }
}
