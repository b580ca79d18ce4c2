// Test helper: a WeightSource over seeded random tensors held in a map.
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;

final class MapSource implements WeightSource {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Random random;

    MapSource(long seed) {
        this.random = new Random(seed);
    }

    /** Adds a tensor of uniform values in [-scale, scale) and returns its data. */
    float[] random(String name, float scale, int... shape) {
        Tensor t = randomTensor(random, scale, shape);
        tensors.put(name, t);
        return t.data();
    }

    static Tensor randomTensor(Random random, float scale, int... shape) {
        float[] d = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < d.length; i++) {
            d[i] = (random.nextFloat() * 2 - 1) * scale;
        }
        return Tensor.of(d, shape);
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
