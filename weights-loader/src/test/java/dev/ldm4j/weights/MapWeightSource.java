// A WeightSource over tensors held in memory, in the order they were put: for weights built in code
// by tests rather than read from a file (in the tests jar of weights-loader).
package dev.ldm4j.weights;

import dev.ldm4j.tensor.Tensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

public class MapWeightSource implements WeightSource {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final String origin;

    public MapWeightSource(String origin) {
        this.origin = origin;
    }

    /** Adds (or replaces) a tensor and returns this source. */
    public MapWeightSource put(String name, Tensor t) {
        tensors.put(name, t);
        return this;
    }

    @Override
    public Set<String> names() {
        return Collections.unmodifiableSet(tensors.keySet());
    }

    @Override
    public TensorInfo info(String name) {
        Tensor t = tensors.get(name);
        return t == null ? null : new TensorInfo(name, t.dtype(), t.shape());
    }

    @Override
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new WeightException(origin + ": no tensor '" + name + "'");
        }
        return t;
    }

    @Override
    public String origin() {
        return origin;
    }
}
