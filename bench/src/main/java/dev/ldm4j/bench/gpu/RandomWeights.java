// A WeightSource of seeded random tensors with the names and shapes of a real checkpoint, read from a
// conformance header file (name -> [dtype, shape]), so full-size models can be built and timed on a
// machine that has no checkpoint. Scales keep activations in a sane range: matrices ~ N(0, 1/fan_in),
// norm scales ~ 1 + N(0, 0.1^2), biases ~ N(0, 0.02^2). Values are not meaningful; only speed is.
package dev.ldm4j.bench.gpu;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

final class RandomWeights implements WeightSource {
    private static final int CHUNK = 1 << 20;
    private final Map<String, TensorInfo> infos = new LinkedHashMap<>();
    private final String origin;
    private final long seed;

    /** header: the "unet" (or "vae", ...) object of a *.header.json, name -> [dtype, shape]. */
    RandomWeights(Map<String, Object> header, String origin, long seed) {
        this.origin = origin;
        this.seed = seed;
        for (var e : header.entrySet()) {
            List<?> spec = (List<?>) e.getValue();
            List<?> dims = (List<?>) spec.get(1);
            int[] shape = new int[dims.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = ((Number) dims.get(i)).intValue();
            }
            infos.put(e.getKey(), new TensorInfo(e.getKey(), DType.F32, shape));
        }
    }

    @Override
    public Set<String> names() {
        return infos.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        return infos.get(name);
    }

    /** Nothing is mapped, and tensor() draws every tensor anew: the default, which reads each one, would cost a full draw. */
    @Override
    public void releasePages() {
    }

    @Override
    public Tensor tensor(String name) {
        TensorInfo info = infos.get(name);
        if (info == null) {
            throw new WeightException(origin + ": missing tensor '" + name + "'");
        }
        int[] shape = info.shape();
        float[] v = new float[Math.toIntExact(info.numel())];
        double sd;
        double mean = 0;
        if (shape.length >= 2) {
            sd = 1 / Math.sqrt(Math.max(1, v.length / shape[0]));
        } else if (name.endsWith("bias")) {
            sd = 0.02;
        } else {
            sd = 0.1;
            mean = 1;
        }
        long s = seed ^ name.hashCode() * 0x9E3779B97F4A7C15L;
        double m = mean, d = sd;
        IntStream.range(0, (v.length + CHUNK - 1) / CHUNK).parallel().forEach(c -> {
            SplittableRandom r = new SplittableRandom(s + c);
            for (int i = c * CHUNK, end = Math.min(v.length, i + CHUNK); i < end; i++) {
                v[i] = (float) (m + d * r.nextGaussian());
            }
        });
        return Tensor.of(v, shape);
    }

    @Override
    public String origin() {
        return origin;
    }
}
