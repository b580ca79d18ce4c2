// Test helper: a WeightSource over a JSON header fixture (name -> [dtype, shape]) that knows names,
// dtypes and shapes but holds no data (tensor() gives zero stand-ins).
package dev.ldm4j.diffusion.model;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

final class HeaderSource implements WeightSource {
    private final String origin;
    private final Map<String, TensorInfo> infos = new LinkedHashMap<>();

    @SuppressWarnings("unchecked")
    HeaderSource(String origin, Map<String, Object> header) {
        this.origin = origin;
        header.forEach((name, v) -> {
            List<Object> entry = (List<Object>) v;
            List<Object> dims = (List<Object>) entry.get(1);
            int[] shape = dims.stream().mapToInt(d -> ((Number) d).intValue()).toArray();
            infos.put(name, new TensorInfo(name, dtype((String) entry.get(0)), shape));
        });
    }

    private static DType dtype(String torchName) {
        return switch (torchName) {
            case "float16" -> DType.F16;
            case "bfloat16" -> DType.BF16;
            case "float32" -> DType.F32;
            case "int64" -> DType.I64;
            default -> throw new IllegalArgumentException("dtype " + torchName);
        };
    }

    @Override
    public Set<String> names() {
        return infos.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        return infos.get(name);
    }

    /** A stand-in of the right shape (every element 0, stride 0): models can be built, not run. */
    @Override
    public Tensor tensor(String name) {
        TensorInfo i = infos.get(name);
        if (i == null) {
            throw new WeightException(origin + ": no tensor '" + name + "'");
        }
        return new Tensor(new FloatStorage(new float[1]), i.shape(), new long[i.shape().length], 0);
    }

    @Override
    public String origin() {
        return origin;
    }
}
