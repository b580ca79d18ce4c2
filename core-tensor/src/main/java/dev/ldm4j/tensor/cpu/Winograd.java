// Winograd's minimal filtering F(4x4, 3x3) for stride-1 3x3 convolutions (Lavin and Gray, "Fast Algorithms for
// Convolutional Neural Networks", CVPR 2016). Each 4x4 block of outputs of one output channel is
//     Y = A^T [ sum over input channels of (G g G^T) (.) (B^T d B) ] A
// with g the channel pair's 3x3 filter, d the 6x6 input tile under the block and (.) the elementwise product. The
// sum over input channels at each of the 36 tile positions xi is a matrix product, so the convolution becomes
//     U_xi [O, C] = (G g G^T)_xi     weights, transformed at every call (stored transposed)
//     V_xi [C, T] = (B^T d B)_xi     input, T = the 4x4 blocks of all images
//     M_xi [O, T] = U_xi V_xi        36 GEMMs, by the same Sgemm as direct convolution
//     y = A^T M A + bias             per block, cut at the image's edge
// which takes 36 multiplies per block and channel pair where direct convolution takes 16 x 9 = 144: a quarter.
// Interpolation points 0, +-1, +-2 and infinity; the matrices (WinogradTest checks the result against direct convolution):
//     B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//     G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//     A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// The input and output transforms run in float32 on vectors of L blocks side by side (the input's rows first split by
// column within a block, so that each vector is a plain load), and so does the weights' (L output channels at a
// time). The price is accuracy: the transforms' constants (up to 8 and 1/24) amplify rounding, so the result differs
// from direct convolution by more than two direct summation orders differ from each other; WinogradTest states the
// bound measured on every SD 1.5 shape.
// Tiles are processed in chunks of whole block rows so that V and M stay within CHUNK_FLOATS each.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

final class Winograd {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Floats that V (and M) may take per chunk of tiles: 16 MB each. */
    private static final long CHUNK_FLOATS = 1L << 22;
    /** -Dldm4j.winograd=false runs every 3x3 convolution directly (to compare, or to rule Winograd out). */
    static final boolean ENABLED = !"false".equalsIgnoreCase(System.getProperty("ldm4j.winograd"));
    /**
     * Output positions per image, and channels in and out, from which Winograd is used. Measured (wall time, best of 3,
     * 2 threads, 2026-12-03): 1x256x256x256 -> 256 2.2x faster than direct, 1x128x512x512 1.8x, 2x320x64x64 and
     * 1x512x64x64 1.5x, 1x128x64x64 even; on 32x32 maps 2x640 1.1x faster and 2x320 1.1x slower; the training shapes
     * 16x64x16x16 and 16x128x8x8 1.5-2x slower (the transforms and the 36 small GEMMs outweigh the saved multiplies).
     */
    static final int MIN_POSITIONS = 64 * 64;
    static final int MIN_CHANNELS = 128;

    private Winograd() {
    }

    /** Whether conv2d of these dimensions runs as Winograd F(4x4, 3x3). */
    static boolean applies(ConvBackward.Dims d, int stride) {
        return ENABLED && stride == 1 && d.kh() == 3 && d.kw() == 3 && d.c() >= MIN_CHANNELS && d.o() >= MIN_CHANNELS
                && (long) d.oh() * d.ow() >= MIN_POSITIONS;
    }

    /**
     * conv2d(x, w, bias, stride 1, padding) + residual (residual null: none) for a 3x3 filter w [O, C, 3, 3]; x as
     * a dense array from xOff on, [N, C, H, W]. The result is [N, O, Ho, Wo].
     */
    static Tensor forward(float[] x, int xOff, Tensor w, float[] bias, ConvBackward.Dims d, int pt, int pl, Tensor residual) {
        return forward(x, xOff, w, bias, d, pt, pl, residual, CHUNK_FLOATS);
    }

    /** As above, V and M limited to about chunkFloats each (at least one row of blocks). */
    static Tensor forward(float[] x, int xOff, Tensor w, float[] bias, ConvBackward.Dims d, int pt, int pl, Tensor residual,
                          long chunkFloats) {
        int n = d.n(), c = d.c(), o = d.o(), oh = d.oh(), ow = d.ow();
        int ty = (oh + 3) / 4, tx = (ow + 3) / 4;
        float[] u = weights(w, o, c);
        float[] out = new float[Math.toIntExact((long) n * o * oh * ow)];
        Views.Flat res = residual == null ? null : Views.flat(residual);
        int blockRows = n * ty;
        int rowsPerChunk = (int) Math.max(1, Math.min(blockRows, chunkFloats / (36L * Math.max(c, o) * tx)));
        float[] v = new float[Math.toIntExact(36L * c * rowsPerChunk * tx)];
        float[] m = new float[Math.toIntExact(36L * o * rowsPerChunk * tx)];
        for (int r0 = 0; r0 < blockRows; r0 += rowsPerChunk) {
            int rows = Math.min(rowsPerChunk, blockRows - r0);
            int tc = rows * tx;
            transformInput(x, xOff, d, pt, pl, r0, rows, tx, v, tc);
            Parallel.forEach(36, (xi, worker) -> Sgemm.gemm(o, tc, c,
                    Sgemm.packColumnMajorA(u, xi * c * o, o),
                    Sgemm.packB(new Sgemm.Operand(new FloatStorage(v), (long) xi * c * tc, tc, 1)),
                    m, xi * o * tc, tc, Sgemm.Epilogue.NONE, false));
            transformOutput(m, tc, d, bias, r0, rows, ty, tx, out, res);
        }
        return Tensor.of(out, n, o, oh, ow);
    }

    /**
     * u[(xi * c + ci) * o + oc] = (G g G^T)[xi] for the filter g = w[oc, ci]: for each position xi, U_xi transposed
     * ([C, O]), so that packing it for the GEMM copies runs of output channels. Vectors of L output channels.
     */
    static float[] weights(Tensor w, int o, int c) {
        float[] u = new float[Math.toIntExact(36L * o * c)];
        Tensor wd = w.isContiguous() ? w : Views.dense(w);
        Parallel.forRange((o + L - 1) / L, 1, (from, to, worker) -> {
            float[] rows = new float[L * 9 * c];
            float[] g = new float[9 * c * L];
            float[] t = new float[18 * L];
            for (int blk = from; blk < to; blk++) {
                int oc0 = blk * L, lanes = Math.min(L, o - oc0);
                // the filters of L output channels (consecutive in w), widened, then transposed so that a tap of one input
                // channel is one vector over them: g[(ci * 9 + tap) * L + lane], lanes past o zero
                Views.copyRow(wd.storage(), wd.offset() + (long) oc0 * 9 * c, 1, lanes * 9 * c, rows, 0);
                java.util.Arrays.fill(rows, lanes * 9 * c, rows.length, 0f);
                for (int i = 0; i < 9 * c; i++) {
                    for (int lane = 0; lane < L; lane++) {
                        g[i * L + lane] = rows[lane * 9 * c + i];
                    }
                }
                for (int ci = 0; ci < c; ci++) {
                    int gi = ci * 9 * L;
                    for (int kx = 0; kx < 3; kx++) {
                        // G g, column kx: t[r][kx] for r = 0..5
                        g6(g, gi + kx * L, 3 * L, t, kx * L, 3 * L, L);
                    }
                    for (int r = 0; r < 6; r++) {
                        // (G g) G^T, row r: U[r][k] for k = 0..5
                        g6(t, r * 3 * L, L, u, (r * 6 * c + ci) * o + oc0, c * o, lanes);
                    }
                }
            }
        });
        return u;
    }

    // The transforms below take arrays and offsets, not vectors: a vector passed to a method that C2 does not inline
    // is boxed, and these are called from large loops where inlining is not assured.

    /** dst[dOff + k * dStride] = (G (a, b, c))[k] for k = 0..5, (a, b, c) = src[off + i * step], the first lanes lanes. */
    private static void g6(float[] src, int off, int step, float[] dst, int dOff, int dStride, int lanes) {
        VectorMask<Float> mask = S.indexInRange(0, lanes);
        FloatVector a = FloatVector.fromArray(S, src, off), b = FloatVector.fromArray(S, src, off + step);
        FloatVector c = FloatVector.fromArray(S, src, off + 2 * step);
        FloatVector ac = a.add(c);
        FloatVector a24c6 = a.mul(1f / 24).add(c.mul(1f / 6));
        FloatVector b12 = b.mul(1f / 12);
        a.mul(0.25f).intoArray(dst, dOff, mask);
        ac.add(b).mul(-1f / 6).intoArray(dst, dOff + dStride, mask);
        ac.sub(b).mul(-1f / 6).intoArray(dst, dOff + 2 * dStride, mask);
        a24c6.add(b12).intoArray(dst, dOff + 3 * dStride, mask);
        a24c6.sub(b12).intoArray(dst, dOff + 4 * dStride, mask);
        c.intoArray(dst, dOff + 5 * dStride, mask);
    }

    /**
     * v[(xi * c + ci) * tc + t] = (B^T d B)[xi] for the tiles of block rows r0..r0+rows-1 (block row = image * ty + row
     * of blocks), t = (block row - r0) * tx + block column.
     */
    private static void transformInput(float[] x, int xOff, ConvBackward.Dims d, int pt, int pl, int r0, int rows, int tx,
                                       float[] v, int tc) {
        int c = d.c(), h = d.h(), wd = d.w(), ty = (d.oh() + 3) / 4;
        int txPad = (tx + L - 1) / L * L;
        int sw = 4 * txPad + 2;
        Parallel.forRange(rows * c, 4, (from, to, worker) -> {
            float[] strip = new float[sw];
            float[] cols = new float[36 * txPad];
            float[] th = new float[36 * L];
            for (int task = from; task < to; task++) {
                int rr = task / c, ci = task % c;
                int blockRow = r0 + rr, img = blockRow / ty, by = blockRow % ty;
                int plane = xOff + (img * c + ci) * h * wd;
                // the six input rows under this row of blocks, zero outside the image, split by column within a tile:
                // cols[(r * 6 + j) * txPad + b] = input row r, column 4 b + j (relative to the padded origin)
                int cLo = Math.max(0, pl), cHi = Math.min(sw, wd + pl);
                for (int r = 0; r < 6; r++) {
                    int iy = 4 * by - pt + r;
                    java.util.Arrays.fill(strip, 0f);
                    if (iy >= 0 && iy < h && cHi > cLo) {
                        System.arraycopy(x, plane + iy * wd + cLo - pl, strip, cLo, cHi - cLo);
                    }
                    for (int j = 0; j < 6; j++) {
                        int at = (r * 6 + j) * txPad;
                        for (int b = 0; b < tx; b++) {
                            cols[at + b] = strip[4 * b + j];
                        }
                    }
                }
                int tRow = rr * tx;
                for (int b0 = 0; b0 < tx; b0 += L) {
                    int lanes = Math.min(L, tx - b0);
                    for (int r = 0; r < 6; r++) {
                        // d B, row r: the six columns of L tiles, to six values each
                        bt(cols, r * 6 * txPad + b0, txPad, th, r * 6 * L, L, L);
                    }
                    for (int col = 0; col < 6; col++) {
                        // B^T (d B), column col: to V[xi = k * 6 + col] for k = 0..5
                        bt(th, col * L, 6 * L, v, (col * c + ci) * tc + tRow + b0, 6 * c * tc, lanes);
                    }
                }
            }
        });
    }

    /** dst[dOff + k * dStride] = (B^T (d0..d5))[k] for k = 0..5, d_i = src[off + i * step], the first lanes lanes. */
    private static void bt(float[] src, int off, int step, float[] dst, int dOff, int dStride, int lanes) {
        VectorMask<Float> mask = S.indexInRange(0, lanes);
        FloatVector d0 = FloatVector.fromArray(S, src, off), d1 = FloatVector.fromArray(S, src, off + step);
        FloatVector d2 = FloatVector.fromArray(S, src, off + 2 * step), d3 = FloatVector.fromArray(S, src, off + 3 * step);
        FloatVector d4 = FloatVector.fromArray(S, src, off + 4 * step), d5 = FloatVector.fromArray(S, src, off + 5 * step);
        FloatVector d42 = d4.sub(d2);
        FloatVector d31 = d3.sub(d1);
        d4.add(d0.mul(4f)).sub(d2.mul(5f)).intoArray(dst, dOff, mask);
        d3.add(d4).sub(d1.add(d2).mul(4f)).intoArray(dst, dOff + dStride, mask);
        d4.sub(d3).add(d1.sub(d2).mul(4f)).intoArray(dst, dOff + 2 * dStride, mask);
        d42.add(d31.mul(2f)).intoArray(dst, dOff + 3 * dStride, mask);
        d42.sub(d31.mul(2f)).intoArray(dst, dOff + 4 * dStride, mask);
        d5.add(d1.mul(4f)).sub(d3.mul(5f)).intoArray(dst, dOff + 5 * dStride, mask);
    }

    /** out[img, oc, 4 by + i, 4 bx + j] = (A^T M A)[i, j] + bias[oc] (+ residual), within the image. */
    private static void transformOutput(float[] m, int tc, ConvBackward.Dims d, float[] bias, int r0, int rows, int ty, int tx,
                                        float[] out, Views.Flat res) {
        int o = d.o(), oh = d.oh(), ow = d.ow();
        Parallel.forRange(rows * o, 4, (from, to, worker) -> {
            float[] z = new float[24 * L];
            float[] y = new float[16 * L];
            for (int task = from; task < to; task++) {
                int rr = task / o, oc = task % o;
                int blockRow = r0 + rr, img = blockRow / ty, by = blockRow % ty;
                float b = bias == null ? 0f : bias[oc];
                int tRow = rr * tx;
                int plane = (img * o + oc) * oh * ow;
                for (int b0 = 0; b0 < tx; b0 += L) {
                    int lanes = Math.min(L, tx - b0);
                    int at = oc * tc + tRow + b0;
                    for (int r = 0; r < 6; r++) {
                        // M A, row r: six values of L tiles to four
                        at(m, at + r * 6 * o * tc, o * tc, lanes, z, r * 4 * L, L, 0f);
                    }
                    for (int j = 0; j < 4; j++) {
                        // A^T (M A), column j, plus the bias
                        at(z, j * L, 4 * L, L, y, j * L, 4 * L, b);
                    }
                    for (int i = 0; i < 4; i++) {
                        int oy = 4 * by + i;
                        if (oy >= oh) {
                            break;
                        }
                        int rowAt = plane + oy * ow;
                        for (int q = 0; q < lanes; q++) {
                            int ox0 = 4 * (b0 + q);
                            for (int j = 0; j < 4 && ox0 + j < ow; j++) {
                                int idx = rowAt + ox0 + j;
                                float val = y[(i * 4 + j) * L + q];
                                out[idx] = res == null ? val : val + res.a()[res.off() + idx];
                            }
                        }
                    }
                }
            }
        });
    }

    /** dst[dOff + k * dStride] = (A^T (m0..m5))[k] + add for k = 0..3, m_i = src[off + i * step] (the first lanes lanes; 0 past them). */
    private static void at(float[] src, int off, int step, int lanes, float[] dst, int dOff, int dStride, float add) {
        VectorMask<Float> mask = S.indexInRange(0, lanes);
        FloatVector m0 = FloatVector.fromArray(S, src, off, mask), m1 = FloatVector.fromArray(S, src, off + step, mask);
        FloatVector m2 = FloatVector.fromArray(S, src, off + 2 * step, mask), m3 = FloatVector.fromArray(S, src, off + 3 * step, mask);
        FloatVector m4 = FloatVector.fromArray(S, src, off + 4 * step, mask), m5 = FloatVector.fromArray(S, src, off + 5 * step, mask);
        FloatVector s12 = m1.add(m2), d12 = m1.sub(m2), s34 = m3.add(m4), d34 = m3.sub(m4);
        m0.add(s12).add(s34).add(add).intoArray(dst, dOff);
        d12.add(d34.mul(2f)).add(add).intoArray(dst, dOff + dStride);
        s12.add(s34.mul(4f)).add(add).intoArray(dst, dOff + 2 * dStride);
        d12.add(d34.mul(8f)).add(m5).add(add).intoArray(dst, dOff + 3 * dStride);
    }
}
