// Scalar twins of the CPU backend's gradient scatter-adds (ScatterAdd), called by CpuReference: plain loops over
// logical indices, contributions summed in double. Argument checks are the fast version's.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.Tensor;

final class ReferenceScatterAdd {
    private ReferenceScatterAdd() {
    }

    /** Row r of the result: the double sum of the rows i of dy with ids[i] == r. */
    static Tensor embeddingBackward(Tensor dy, int[] ids, int rows) {
        int d = ScatterAdd.checkEmbedding(dy, ids, rows);
        double[] acc = new double[rows * d];
        for (int i = 0; i < ids.length; i++) {
            for (int j = 0; j < d; j++) {
                acc[ids[i] * d + j] += dy.getFloat(i, j);
            }
        }
        float[] out = new float[rows * d];
        for (int k = 0; k < out.length; k++) {
            out[k] = (float) acc[k];
        }
        return Tensor.of(out, rows, d);
    }

    /**
     * For every logical index of target, its storage element receives src at that index (broadcast); contributions
     * are summed in double per storage element and each touched element is rounded once.
     */
    static void accumulate(Tensor target, Tensor src) {
        float[] t = ScatterAdd.checkAccumulate(target, src);
        int[] shape = target.shape();
        Tensor sb = src.broadcastTo(shape);
        int count = Math.toIntExact(target.numel());
        double[] acc = new double[t.length];
        boolean[] touched = new boolean[t.length];
        int[] idx = new int[shape.length];
        for (int e = 0; e < count; e++) {
            int at = Math.toIntExact(target.index(idx));
            if (!touched[at]) {
                touched[at] = true;
                acc[at] = t[at];
            }
            acc[at] += sb.getFloat(idx);
            for (int i = shape.length - 1; i >= 0; i--) {
                if (++idx[i] < shape[i]) {
                    break;
                }
                idx[i] = 0;
            }
        }
        for (int at = 0; at < t.length; at++) {
            if (touched[at]) {
                t[at] = (float) acc[at];
            }
        }
    }

    /** A new F32 host buffer of zeros. */
    static Tensor zeros(int... shape) {
        ScatterAdd.checkZeros(shape);
        return Tensor.of(new FloatStorage(new float[Math.toIntExact(Tensor.numel(shape))]), shape);
    }
}
