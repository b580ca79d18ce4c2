// The parameters a training run updates: name -> (shape, value, grad), each a host float array that
// the optimizer, the gradient clipper and the EMA mutate in place (value is the backing array of the
// model's dense F32 weight tensor, so the model sees every update). Iteration is in name order
// (String.compareTo), so every loop over the parameters, and every checkpoint, is deterministic.
package dev.ldm4j.train.optim;

import dev.ldm4j.tensor.Tensor;

import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;

public final class TrainableParams implements Iterable<TrainableParams.Param> {
    /**
     * One trainable tensor. value and grad are shared, not copied: value is updated in place and
     * grad is where the backward pass accumulates. Equality is identity of the arrays.
     */
    public record Param(String name, int[] shape, float[] value, float[] grad) {
        public Param {
            if (name == null || name.isEmpty() || name.indexOf('\n') >= 0) {
                throw new IllegalArgumentException("parameter name " + (name == null ? "null" : "'" + name.replace("\n", "\\n") + "'")
                        + " is empty or has a line break");
            }
            shape = shape.clone();
            long n = Tensor.numel(shape);
            if (value.length != n || grad.length != n) {
                throw new IllegalArgumentException("parameter '" + name + "' of shape " + Arrays.toString(shape) + " needs " + n
                        + " values, got value " + value.length + " and grad " + grad.length);
            }
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }

        public int numel() {
            return value.length;
        }
    }

    private final TreeMap<String, Param> byName = new TreeMap<>();

    /** Adds a parameter; value and grad are kept, not copied. A name may be added once. */
    public Param add(String name, int[] shape, float[] value, float[] grad) {
        Param p = new Param(name, shape, value, grad);
        if (byName.putIfAbsent(name, p) != null) {
            throw new IllegalArgumentException("parameter '" + name + "' is already registered");
        }
        return p;
    }

    /** Adds a dense host F32 tensor (its backing array is updated in place) with a new zero gradient. */
    public Param add(String name, Tensor weight) {
        float[] value = weight.data();
        return add(name, weight.shape(), value, new float[value.length]);
    }

    /** The parameter of that name; throws naming it when there is none. */
    public Param get(String name) {
        Param p = byName.get(name);
        if (p == null) {
            throw new IllegalArgumentException("no trainable parameter named '" + name + "'");
        }
        return p;
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /** The names, in iteration (sorted) order. */
    public Set<String> names() {
        return Collections.unmodifiableSet(byName.keySet());
    }

    /** The parameters in name order. */
    public List<Param> list() {
        return List.copyOf(byName.values());
    }

    @Override
    public Iterator<Param> iterator() {
        return Collections.unmodifiableCollection(byName.values()).iterator();
    }

    public int size() {
        return byName.size();
    }

    /** Total number of scalar parameters. */
    public long numel() {
        long n = 0;
        for (Param p : byName.values()) {
            n += p.numel();
        }
        return n;
    }

    /** Sets every gradient to zero (optimizer.zero_grad(set_to_none=False)). */
    public void zeroGrad() {
        for (Param p : byName.values()) {
            Arrays.fill(p.grad, 0f);
        }
    }
}
