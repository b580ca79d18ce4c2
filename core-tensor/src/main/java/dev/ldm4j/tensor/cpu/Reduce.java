// Sums and means along one dimension on the CPU backend: x seen as [outer, len, inner], out [outer, inner], each
// output the double sum of its len floats, as CpuReference's twin sums them (the twin adds in order; here the
// adds run in double vector lanes, so a result may differ from the twin's in the last bit of a double, which
// the float result almost never shows).
//
// Two layouts, both vectorized over float -> double conversions:
//   inner == 1 (a bias gradient's sum over the positions of each channel): each output sums len consecutive
//     floats, in two accumulators of D.length() double lanes;
//   inner > 1 (a linear bias gradient's sum over rows): each output column keeps its double sum in a register
//     over all len rows, 4 vectors of columns at a time.
// The work is split over outer and over blocks of columns; a small reduction runs on the calling thread.
package dev.ldm4j.tensor.cpu;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

final class Reduce {
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /** Floats with as many lanes as D, so that one conversion fills one double vector. */
    private static final VectorSpecies<Float> F = VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));
    private static final int DL = D.length();
    /** Columns one task sums (a multiple of 4 double vectors). */
    private static final int COLUMN_BLOCK = 64 * DL;
    /** Elements below which the reduction stays on the calling thread (a hand-off costs more). */
    private static final long SERIAL_ELEMENTS = 1 << 15;

    private Reduce() {
    }

    /** out[o * inner + i] = sum over l of x[off + (o * len + l) * inner + i], divided by len when mean. */
    static void sum(float[] x, int off, int outer, int len, int inner, boolean mean, float[] out) {
        if (inner == 1) {
            Parallel.RangeBody rows = (from, to, worker) -> {
                for (int o = from; o < to; o++) {
                    double s = rowSum(x, off + o * len, len);
                    out[o] = (float) (mean ? s / len : s);
                }
            };
            if ((long) outer * len <= SERIAL_ELEMENTS) {
                rows.run(0, outer, 0);
            } else {
                Parallel.forRange(outer, Math.max(1, (int) (SERIAL_ELEMENTS / Math.max(1, len))), rows);
            }
            return;
        }
        int blocks = (inner + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
        Parallel.RangeBody tasks = (from, to, worker) -> {
            for (int t = from; t < to; t++) {
                int o = t / blocks, c0 = (t % blocks) * COLUMN_BLOCK, c1 = Math.min(inner, c0 + COLUMN_BLOCK);
                columnSums(x, off + o * len * inner, len, inner, c0, c1, mean, out, o * inner);
            }
        };
        long work = (long) outer * len * inner;
        if (work <= SERIAL_ELEMENTS) {
            tasks.run(0, outer * blocks, 0);
        } else {
            int perTask = Math.max(1, len * Math.min(inner, COLUMN_BLOCK));
            Parallel.forRange(outer * blocks, Math.max(1, (int) (SERIAL_ELEMENTS / perTask)), tasks);
        }
    }

    /** The double sum of x[from .. from + n). */
    static double rowSum(float[] x, int from, int n) {
        DoubleVector a0 = DoubleVector.zero(D), a1 = a0;
        int i = 0;
        for (; i <= n - 2 * DL; i += 2 * DL) {
            a0 = a0.add(widen(x, from + i));
            a1 = a1.add(widen(x, from + i + DL));
        }
        for (; i <= n - DL; i += DL) {
            a0 = a0.add(widen(x, from + i));
        }
        double s = lanes(a0.add(a1));
        for (; i < n; i++) {
            s += x[from + i];
        }
        return s;
    }

    /** out[outAt + i] = sum over l < len of x[at + l * inner + i], for c0 <= i < c1. */
    private static void columnSums(float[] x, int at, int len, int inner, int c0, int c1, boolean mean, float[] out, int outAt) {
        int i = c0;
        double[] t = new double[DL];
        for (; i <= c1 - 4 * DL; i += 4 * DL) {
            DoubleVector s0 = DoubleVector.zero(D), s1 = s0, s2 = s0, s3 = s0;
            for (int l = 0, r = at + i; l < len; l++, r += inner) {
                s0 = s0.add(widen(x, r));
                s1 = s1.add(widen(x, r + DL));
                s2 = s2.add(widen(x, r + 2 * DL));
                s3 = s3.add(widen(x, r + 3 * DL));
            }
            store(s0, t, mean, len, out, outAt + i);
            store(s1, t, mean, len, out, outAt + i + DL);
            store(s2, t, mean, len, out, outAt + i + 2 * DL);
            store(s3, t, mean, len, out, outAt + i + 3 * DL);
        }
        for (; i < c1; i++) {
            double s = 0;
            for (int l = 0, r = at + i; l < len; l++, r += inner) {
                s += x[r];
            }
            out[outAt + i] = (float) (mean ? s / len : s);
        }
    }

    private static DoubleVector widen(float[] x, int at) {
        return (DoubleVector) FloatVector.fromArray(F, x, at).convertShape(VectorOperators.F2D, D, 0);
    }

    private static void store(DoubleVector s, double[] t, boolean mean, int len, float[] out, int at) {
        s.intoArray(t, 0);
        for (int j = 0; j < DL; j++) {
            out[at + j] = (float) (mean ? t[j] / len : t[j]);
        }
    }

    /** The lanes' sum in a fixed order (lane 0 first), the same bits whether compiled or interpreted. */
    private static double lanes(DoubleVector v) {
        double[] t = new double[DL];
        v.intoArray(t, 0);
        double s = 0;
        for (double e : t) {
            s += e;
        }
        return s;
    }
}
