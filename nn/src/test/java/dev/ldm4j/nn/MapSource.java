// Test helper: an in-memory weight source filled with seeded random tensors.
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.MapWeightSource;

import java.util.Random;

final class MapSource extends MapWeightSource {
    private final Random random;

    MapSource(long seed) {
        super("memory");
        this.random = new Random(seed);
    }

    /** Adds a tensor of uniform values in [-scale, scale) and returns its data. */
    float[] random(String name, float scale, int... shape) {
        Tensor t = randomTensor(random, scale, shape);
        put(name, t);
        return t.data();
    }

    static Tensor randomTensor(Random random, float scale, int... shape) {
        float[] d = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < d.length; i++) {
            d[i] = (random.nextFloat() * 2 - 1) * scale;
        }
        return Tensor.of(d, shape);
    }
}
