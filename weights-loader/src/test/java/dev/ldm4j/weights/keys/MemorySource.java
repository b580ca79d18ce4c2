// Test helper: a WeightSource over tensors held in a map.
package dev.ldm4j.weights.keys;

import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

final class MemorySource implements WeightSource {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    MemorySource put(String name, Tensor t) {
        tensors.put(name, t);
        return this;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
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
            throw new WeightException("memory: no tensor '" + name + "'");
        }
        return t;
    }

    @Override
    public String origin() {
        return "memory";
    }
}
