// How a tensor presented under a diffusers name is derived from a checkpoint tensor: as it is, a
// 1x1 convolution kernel read as a linear weight, or a run of rows of a stacked matrix. Every
// derivation is a view (reshape or slice of the same storage); nothing is copied.
package dev.ldm4j.weights.keys;

import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.WeightException;

import java.util.Arrays;

public sealed interface TensorView {
    /** The shape of the derived tensor, given the checkpoint tensor's shape and name (for messages). */
    int[] shape(String sourceName, int[] sourceShape);

    /** The derived tensor, a view of t. */
    Tensor apply(Tensor t);

    /** The tensor unchanged. */
    TensorView IDENTITY = new Identity();

    /** A [out, in, 1, 1] convolution kernel as the [out, in] weight of a linear layer (a 2-D tensor passes unchanged). */
    TensorView CONV_1X1_AS_LINEAR = new Conv1x1AsLinear();

    /** Rows start..end-1 along dimension 0 (one of q, k, v in a stacked in-projection). */
    static TensorView rows(int part, int parts) {
        return new Rows(part, parts);
    }

    record Identity() implements TensorView {
        @Override
        public int[] shape(String sourceName, int[] sourceShape) {
            return sourceShape.clone();
        }

        @Override
        public Tensor apply(Tensor t) {
            return t;
        }
    }

    record Conv1x1AsLinear() implements TensorView {
        @Override
        public int[] shape(String sourceName, int[] s) {
            if (s.length == 2) {
                return s.clone();
            }
            if (s.length != 4 || s[2] != 1 || s[3] != 1) {
                throw new WeightException("tensor '" + sourceName + "' has shape " + Arrays.toString(s)
                        + ", expected a 1x1 convolution kernel [out, in, 1, 1] or a linear weight [out, in]");
            }
            return new int[] {s[0], s[1]};
        }

        @Override
        public Tensor apply(Tensor t) {
            if (t.rank() == 2) {
                return t;
            }
            long[] st = t.strides();
            return new Tensor(t.storage(), new int[] {t.dim(0), t.dim(1)}, new long[] {st[0], st[1]}, t.offset());
        }
    }

    /** Part `part` of `parts` equal runs of rows along dimension 0. */
    record Rows(int part, int parts) implements TensorView {
        @Override
        public int[] shape(String sourceName, int[] s) {
            if (s.length == 0 || s[0] % parts != 0) {
                throw new WeightException("tensor '" + sourceName + "' has shape " + Arrays.toString(s)
                        + ", expected a first dimension divisible by " + parts + " (stacked q, k, v)");
            }
            int[] out = s.clone();
            out[0] = s[0] / parts;
            return out;
        }

        @Override
        public Tensor apply(Tensor t) {
            int n = t.dim(0) / parts;
            return t.slice(0, part * n, (part + 1) * n);
        }
    }
}
