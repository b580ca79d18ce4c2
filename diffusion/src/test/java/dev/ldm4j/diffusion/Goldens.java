// Test support: reading reference tensors from the conformance fixtures as dense host F32 tensors,
// the relative error the conformance README prescribes, and weight sources with one defect injected
// (a hidden, re-shaped or extra tensor) for the loading tests.
package dev.ldm4j.diffusion;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightSource;

import java.util.LinkedHashSet;
import java.util.Set;

public final class Goldens {
    private Goldens() {
    }

    /** A dense heap copy of a fixture tensor. */
    public static Tensor dense(WeightSource src, String name) {
        Tensor t = src.tensor(name);
        return Tensor.of(t.toFloatArray(), t.shape());
    }

    /** ||out - ref|| / ||ref|| in double precision. */
    public static double relativeError(Backend backend, Tensor out, Tensor ref) {
        float[] o = backend.toHost(out).toFloatArray();
        float[] r = ref.toFloatArray();
        if (o.length != r.length) {
            throw new AssertionError("sizes differ: " + o.length + " vs " + r.length);
        }
        double num = 0, den = 0;
        for (int i = 0; i < o.length; i++) {
            double d = (double) o[i] - r[i];
            num += d * d;
            den += (double) r[i] * r[i];
        }
        return Math.sqrt(num / den);
    }

    /** The source without one tensor. */
    public static WeightSource without(WeightSource base, String hidden) {
        return new Patched(base, hidden, null, null);
    }

    /** The source with one tensor reported under a different shape. */
    public static WeightSource reshaped(WeightSource base, String key, int... shape) {
        return new Patched(base, null, key, shape);
    }

    /** The source with one more (unused) tensor name, a copy of an existing tensor. */
    public static WeightSource withExtra(WeightSource base, String extraName, String copyOf) {
        return new WeightSource() {
            @Override
            public Set<String> names() {
                Set<String> s = new LinkedHashSet<>(base.names());
                s.add(extraName);
                return s;
            }

            @Override
            public TensorInfo info(String name) {
                if (name.equals(extraName)) {
                    TensorInfo i = base.info(copyOf);
                    return new TensorInfo(extraName, i.dtype(), i.shape());
                }
                return base.info(name);
            }

            @Override
            public Tensor tensor(String name) {
                return base.tensor(name.equals(extraName) ? copyOf : name);
            }

            @Override
            public String origin() {
                return base.origin();
            }
        };
    }

    private record Patched(WeightSource base, String hidden, String reshapedKey, int[] shape) implements WeightSource {
        @Override
        public Set<String> names() {
            Set<String> s = new LinkedHashSet<>(base.names());
            s.remove(hidden);
            return s;
        }

        @Override
        public TensorInfo info(String name) {
            if (name.equals(hidden)) {
                return null;
            }
            TensorInfo i = base.info(name);
            return name.equals(reshapedKey) ? new TensorInfo(name, i.dtype(), shape) : i;
        }

        @Override
        public Tensor tensor(String name) {
            return base.tensor(name);
        }

        @Override
        public String origin() {
            return base.origin();
        }
    }
}
