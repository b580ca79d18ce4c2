// Shape arithmetic and argument checks shared by the CPU backend and its scalar reference: numpy
// broadcasting, output sizes, and one-line errors that name the op and the offending shape.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Tensor;

import java.util.Arrays;

final class Shapes {
    private Shapes() {
    }

    static IllegalArgumentException bad(String op, String message) {
        return new IllegalArgumentException(op + ": " + message);
    }

    static String s(Tensor t) {
        return Arrays.toString(t.shape());
    }

    /** The numpy broadcast of two shapes. */
    static int[] broadcast(String op, int[] a, int[] b) {
        int r = Math.max(a.length, b.length);
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i - (r - a.length) >= 0 ? a[i - (r - a.length)] : 1;
            int db = i - (r - b.length) >= 0 ? b[i - (r - b.length)] : 1;
            if (da != db && da != 1 && db != 1) {
                throw bad(op, "shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    static void requireRank(String op, String what, Tensor t, int rank) {
        if (t.rank() != rank) {
            throw bad(op, what + " must have rank " + rank + ", got " + s(t));
        }
    }

    static void requireVector(String op, String what, Tensor t, int n) {
        if (t != null && (t.rank() != 1 || t.dim(0) != n)) {
            throw bad(op, what + " must have shape [" + n + "], got " + s(t));
        }
    }

    /** A backward op's incoming gradient dy must have the shape of the forward's input x. */
    static void requireSameShape(String op, Tensor x, Tensor dy) {
        if (dy == null || !Arrays.equals(x.shape(), dy.shape())) {
            throw bad(op, "dy " + (dy == null ? "null" : s(dy)) + " must have the forward input's shape " + s(x));
        }
    }

    static int prod(int[] shape, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) {
            p *= shape[i];
        }
        return Math.toIntExact(p);
    }

    /** conv2d output size along one axis. */
    static int convOut(String op, int in, int k, int stride, int padA, int padB) {
        int span = in + padA + padB - k;
        if (span < 0) {
            throw bad(op, "kernel " + k + " larger than padded input " + (in + padA + padB));
        }
        return span / stride + 1;
    }

    /** Validates attention arguments; returns {B, Lq, Lk, H, D}. */
    static int[] attention(String op, Tensor q, Tensor k, Tensor v, int heads) {
        requireRank(op, "q", q, 3);
        requireRank(op, "k", k, 3);
        requireRank(op, "v", v, 3);
        int b = q.dim(0), lq = q.dim(1), hd = q.dim(2), lk = k.dim(1);
        if (heads <= 0 || hd % heads != 0) {
            throw bad(op, "q width " + hd + " is not divisible by heads " + heads);
        }
        if (k.dim(0) != b || v.dim(0) != b || k.dim(2) != hd || v.dim(2) != hd || v.dim(1) != lk) {
            throw bad(op, "q " + s(q) + ", k " + s(k) + ", v " + s(v) + " do not match (expected [B, Lq, H*D], [B, Lk, H*D], [B, Lk, H*D])");
        }
        if (lk == 0 && lq > 0) {
            throw bad(op, "no keys (k " + s(k) + ")");
        }
        return new int[] {b, lq, lk, heads, hd / heads};
    }

    /** Validates concat arguments; returns the output shape. */
    static int[] concat(String op, int dim, Tensor... parts) {
        if (parts == null || parts.length == 0) {
            throw bad(op, "no tensors to concatenate");
        }
        int rank = parts[0].rank();
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank) {
            throw bad(op, "dim " + dim + " out of range for rank " + rank);
        }
        int[] out = parts[0].shape();
        out[d] = 0;
        for (Tensor p : parts) {
            if (p.rank() != rank) {
                throw bad(op, "ranks differ: " + s(parts[0]) + " and " + s(p));
            }
            for (int i = 0; i < rank; i++) {
                if (i != d && p.dim(i) != parts[0].dim(i)) {
                    throw bad(op, "shapes " + s(parts[0]) + " and " + s(p) + " differ outside dim " + d);
                }
            }
            out[d] += p.dim(d);
        }
        return out;
    }

    /**
     * The source index PyTorch's interpolate(mode="nearest") reads for output index dst when a side of
     * size in becomes out (aten/src/ATen/native/UpSample.h, nearest_idx): dst itself when the sizes are
     * equal, dst / 2 when out = 2 in, else min(floor(dst * scale), in - 1) with scale = in / out and the
     * product both rounded to float. That is floor(dst * in / out) except where float rounding lands
     * just below an integer (2 -> 82: dst 41 reads 0, not 1); the U-Net's sizes (out = 2 in - 1) never do.
     */
    static int nearestSource(int dst, int in, int out) {
        if (out == in) {
            return dst;
        }
        if (out == 2 * in) {
            return dst >> 1;
        }
        float scale = (float) in / (float) out;
        return Math.min((int) Math.floor((float) dst * scale), in - 1);
    }

    /** nearestSource for every output index 0..out-1. */
    static int[] nearestSources(int in, int out) {
        int[] src = new int[out];
        for (int i = 0; i < out; i++) {
            src[i] = nearestSource(i, in, out);
        }
        return src;
    }

    /** Validates a nearest resize between t [N, C, H, W] (named what) and the other side's size h x w (both at least 1). */
    static void requireResize(String op, String what, Tensor t, int h, int w) {
        requireRank(op, what, t, 4);
        if (h < 1 || w < 1) {
            throw bad(op, "size " + h + "x" + w + " must be positive");
        }
        if (t.dim(2) < 1 || t.dim(3) < 1) {
            throw bad(op, what + " " + s(t) + " has an empty side");
        }
        if ((long) t.dim(0) * t.dim(1) * h * w > Integer.MAX_VALUE) {
            throw bad(op, "[" + t.dim(0) + ", " + t.dim(1) + ", " + h + ", " + w + "] is too large for one host array");
        }
    }

    static int axis(String op, Tensor x, int dim) {
        int d = dim < 0 ? dim + x.rank() : dim;
        if (d < 0 || d >= x.rank()) {
            throw bad(op, "dim " + dim + " out of range for " + s(x));
        }
        return d;
    }
}
