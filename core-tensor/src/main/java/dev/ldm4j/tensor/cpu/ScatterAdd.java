// The additions that training makes into gradient buffers: accumulate (target += src into a view that may alias
// elements through zero strides) and embeddingBackward (rows of dy summed per id).
//
// accumulate has two paths. When no target dimension has stride 0, each logical element is its own storage
// element (checked: strides that could overlap make it run serially) and the add is one pass, split over the pool
// by rows. When zero strides alias elements (a bias gradient seen as [N, C, H, W]), src is summed per distinct
// target element in double, in one row-major pass, and each element receives its sum with one rounding.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

final class ScatterAdd {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private ScatterAdd() {
    }

    /** A dense F32 host buffer of zeros, for gradients to accumulate into. */
    static Tensor zeros(int... shape) {
        return Tensor.zeros(checkZeros(shape));
    }

    static int[] checkZeros(int... shape) {
        for (int d : shape) {
            if (d < 0) {
                throw Shapes.bad("zeros", "negative dimension in shape " + Arrays.toString(shape));
            }
        }
        return shape;
    }

    /** Checks accumulate's arguments; returns target's F32 heap array. */
    static float[] checkAccumulate(Tensor target, Tensor src) {
        String op = "accumulate";
        Views.requireHostFloat(op, "src", src);
        if (target == null || !(target.storage() instanceof FloatStorage fs)) {
            throw Shapes.bad(op, "target " + target + " must be a view of a host F32 buffer made by zeros()");
        }
        int[] shape = Shapes.broadcast(op, target.shape(), src.shape());
        if (!Arrays.equals(shape, target.shape())) {
            throw Shapes.bad(op, "src " + Shapes.s(src) + " does not broadcast to target " + Shapes.s(target));
        }
        return fs.data();
    }

    /** target += src (broadcast), aliased target elements receiving the sum of their contributions. */
    static void accumulate(Tensor target, Tensor src) {
        float[] t = checkAccumulate(target, src);
        int[] shape = target.shape();
        if (Tensor.numel(shape) == 0) {
            return;
        }
        Tensor sv = Views.heap(src).broadcastTo(shape);
        float[] s = ((FloatStorage) sv.storage()).data();
        long[] ts = target.strides(), ss = sv.strides();
        boolean aliased = false;
        for (int i = 0; i < shape.length; i++) {
            aliased |= shape[i] > 1 && ts[i] == 0;
        }
        if (aliased) {
            accumulateAliased(t, target.offset(), ts, s, sv.offset(), ss, shape);
        } else {
            accumulateDistinct(t, target.offset(), ts, s, sv.offset(), ss, shape);
        }
    }

    /** No zero strides in the target: merge dimensions laid out consecutively in both, then add row by row. */
    private static void accumulateDistinct(float[] t, long tOff, long[] ts, float[] s, long sOff, long[] ss, int[] shape) {
        int[] dims = new int[Math.max(1, shape.length)];
        long[] dt = new long[dims.length], ds = new long[dims.length];
        int r = 0;
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1) {
                continue;
            }
            if (r > 0 && dt[r - 1] == ts[i] * shape[i] && ds[r - 1] == ss[i] * shape[i]) {
                dims[r - 1] *= shape[i];
                dt[r - 1] = ts[i];
                ds[r - 1] = ss[i];
            } else {
                dims[r] = shape[i];
                dt[r] = ts[i];
                ds[r] = ss[i];
                r++;
            }
        }
        if (r == 0) {
            dims[0] = 1;
            dt[0] = 1;
            ds[0] = 1;
            r = 1;
        }
        int rank = r;
        int inner = dims[rank - 1];
        int sti = Math.toIntExact(dt[rank - 1]), ssi = Math.toIntExact(ds[rank - 1]);
        int rows = Shapes.prod(dims, 0, rank - 1);
        Parallel.RangeBody body = (from, to, worker) -> {
            for (int row = from; row < to; row++) {
                long pt = tOff, ps = sOff;
                int rem = row;
                for (int d = rank - 2; d >= 0; d--) {
                    int i = rem % dims[d];
                    rem /= dims[d];
                    pt += i * dt[d];
                    ps += i * ds[d];
                }
                addRow(t, Math.toIntExact(pt), sti, s, Math.toIntExact(ps), ssi, inner);
            }
        };
        if (nonOverlapping(dims, dt, rank)) {
            Parallel.forRange(rows, Math.max(1, (1 << 15) / inner), body);
        } else {
            body.run(0, rows, 0);
        }
    }

    /** t[at + j * st] += s[from + j * ss] for j < n. */
    static void addRow(float[] t, int at, int st, float[] s, int from, int ss, int n) {
        if (st == 1 && ss == 1) {
            int j = 0;
            for (int end = S.loopBound(n); j < end; j += S.length()) {
                FloatVector.fromArray(S, t, at + j).add(FloatVector.fromArray(S, s, from + j)).intoArray(t, at + j);
            }
            for (; j < n; j++) {
                t[at + j] += s[from + j];
            }
        } else if (ss == 0) {
            float v = s[from];
            for (int j = 0; j < n; j++) {
                t[at + j * st] += v;
            }
        } else {
            for (int j = 0; j < n; j++) {
                t[at + j * st] += s[from + j * ss];
            }
        }
    }

    /**
     * True when no two index tuples reach the same element: with the dimensions sorted by stride, each stride
     * exceeds the farthest offset the smaller ones reach (strides all non-zero here).
     */
    static boolean nonOverlapping(int[] dims, long[] strides, int rank) {
        long[][] byStride = new long[rank][];
        for (int i = 0; i < rank; i++) {
            byStride[i] = new long[] {Math.abs(strides[i]), dims[i]};
        }
        Arrays.sort(byStride, (a, b) -> Long.compare(a[0], b[0]));
        long reach = 0;
        for (long[] d : byStride) {
            if (d[1] == 1) {
                continue;
            }
            if (d[0] <= reach) {
                return false;
            }
            reach += (d[1] - 1) * d[0];
        }
        return true;
    }

    /**
     * Zero strides in the target: one row-major pass over the whole shape adds each src element into the double
     * sum of the distinct target element it lands on (sums indexed densely over the non-zero-stride dimensions);
     * then every distinct element gets target += (float) sum.
     */
    private static void accumulateAliased(float[] t, long tOff, long[] ts, float[] s, long sOff, long[] ss, int[] shape) {
        int rank = shape.length;
        long[] accStride = new long[rank];
        long distinct = 1;
        for (int i = rank - 1; i >= 0; i--) {
            if (ts[i] != 0 && shape[i] > 1) {
                accStride[i] = distinct;
                distinct *= shape[i];
            }
        }
        double[] acc = new double[Math.toIntExact(distinct)];
        int inner = shape[rank - 1];
        int ssi = Math.toIntExact(ss[rank - 1]), asi = Math.toIntExact(accStride[rank - 1]);
        int rows = Shapes.prod(shape, 0, rank - 1);
        int[] idx = new int[rank];
        long ps = sOff, pa = 0;
        for (int row = 0; row < rows; row++) {
            int from = Math.toIntExact(ps), at = Math.toIntExact(pa);
            if (asi == 0) {
                acc[at] += sum(s, from, ssi, inner);
            } else {
                for (int j = 0; j < inner; j++) {
                    acc[at + j * asi] += s[from + j * ssi];
                }
            }
            for (int d = rank - 2; d >= 0; d--) {
                ps += ss[d];
                pa += accStride[d];
                if (++idx[d] < shape[d]) {
                    break;
                }
                ps -= ss[d] * shape[d];
                pa -= accStride[d] * shape[d];
                idx[d] = 0;
            }
        }
        // write back: walk the distinct dimensions (those with an accumulator stride) in row-major order
        Arrays.fill(idx, 0);
        long pt = tOff;
        for (int a = 0; a < acc.length; a++) {
            int at = Math.toIntExact(pt);
            t[at] = (float) (t[at] + acc[a]);
            for (int d = rank - 1; d >= 0; d--) {
                if (accStride[d] == 0) {
                    continue;
                }
                pt += ts[d];
                if (++idx[d] < shape[d]) {
                    break;
                }
                pt -= ts[d] * shape[d];
                idx[d] = 0;
            }
        }
    }

    /** The double sum of s[from + j * step] for j < n, in four interleaved partial sums (the adds overlap). */
    static double sum(float[] s, int from, int step, int n) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int j = 0;
        for (; j + 4 <= n; j += 4) {
            int at = from + j * step;
            s0 += s[at];
            s1 += s[at + step];
            s2 += s[at + 2 * step];
            s3 += s[at + 3 * step];
        }
        for (; j < n; j++) {
            s0 += s[from + j * step];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /** dtable [rows, D]: row r is the sum of the rows i of dy [ids.length, D] with ids[i] == r, added in order of i. */
    static Tensor embeddingBackward(Tensor dy, int[] ids, int rows) {
        int d = checkEmbedding(dy, ids, rows);
        float[] out = new float[Math.toIntExact((long) rows * d)];
        Views.Flat df = Views.flat(dy);
        // columns split over the pool: every worker walks all ids over its own columns, so no element is shared
        Parallel.forRange(d, 256, (from, to, worker) -> {
            for (int i = 0; i < ids.length; i++) {
                addRow(out, ids[i] * d + from, 1, df.a(), df.off() + i * d + from, 1, to - from);
            }
        });
        return Tensor.of(out, rows, d);
    }

    /** Checks embeddingBackward's arguments; returns D. */
    static int checkEmbedding(Tensor dy, int[] ids, int rows) {
        String op = "embeddingBackward";
        Views.requireHostFloat(op, "dy", dy);
        Shapes.requireRank(op, "dy", dy, 2);
        if (dy.dim(0) != ids.length) {
            throw Shapes.bad(op, "dy " + Shapes.s(dy) + " has " + dy.dim(0) + " rows for " + ids.length + " ids");
        }
        if (rows < 0) {
            throw Shapes.bad(op, "negative row count " + rows);
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= rows) {
                throw Shapes.bad(op, "id " + ids[i] + " at position " + i + " is outside the table of " + rows + " rows");
            }
        }
        return dy.dim(1);
    }
}
