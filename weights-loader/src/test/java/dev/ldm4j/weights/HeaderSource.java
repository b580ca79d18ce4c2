// A WeightSource over a checkpoint's header alone (name -> [torch dtype, shape], as the conformance
// fixtures' *.header.json files hold it): it knows names, dtypes and shapes but holds no data. For
// checking key layouts and building models at full size without the weights; never for running one.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

public final class HeaderSource implements WeightSource {
    private final String origin;
    private final boolean zeroStandIns;
    private final Map<String, TensorInfo> infos = new LinkedHashMap<>();

    /** A header-only source: tensor() fails, naming the tensor. */
    public HeaderSource(String origin, Map<String, Object> header) {
        this(origin, header, false);
    }

    /**
     * A header-only source whose tensor() gives a stand-in of the right shape (every element 0,
     * stride 0), so that models can be built from it and their parameter use checked, not run.
     */
    public static HeaderSource withZeroStandIns(String origin, Map<String, Object> header) {
        return new HeaderSource(origin, header, true);
    }

    @SuppressWarnings("unchecked")
    private HeaderSource(String origin, Map<String, Object> header, boolean zeroStandIns) {
        this.origin = origin;
        this.zeroStandIns = zeroStandIns;
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

    @Override
    public Tensor tensor(String name) {
        TensorInfo i = infos.get(name);
        if (!zeroStandIns) {
            throw new WeightException(origin + ": header only, no data for '" + name + "'");
        }
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
