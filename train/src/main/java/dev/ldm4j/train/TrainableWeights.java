// The weights of a model being trained: every tensor a dense F32 array on the heap, which the optimizer
// updates in place. It is also a WeightSource, so the ordinary model classes (UNet2DConditionModel,
// AutoencoderKL, ClipTextTransformer) are built over it unchanged: on the CPU a parameter reaches the model
// as the same storage, and an update shows in the next forward without rebuilding the model.
package dev.ldm4j.train;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

public final class TrainableWeights implements WeightSource {
    private final String origin;
    private final Map<String, Tensor> tensors;

    private TrainableWeights(String origin, Map<String, Tensor> tensors) {
        this.origin = origin;
        this.tensors = Collections.unmodifiableMap(tensors);
    }

    /** F32 heap copies of every tensor of source (F16/BF16 widen exactly), in name order. */
    public static TrainableWeights copyOf(WeightSource source) {
        Map<String, Tensor> out = new TreeMap<>();
        for (String name : source.names()) {
            TensorInfo info = source.info(name);
            if (!info.dtype().isFloating()) {
                continue; // integer buffers (CLIP's position ids) are not parameters
            }
            Tensor t = source.tensor(name);
            out.put(name, Tensor.of(t.toFloatArray(), t.shape()));
        }
        return new TrainableWeights(source.origin(), new LinkedHashMap<>(out));
    }

    /** Weights given by name (each copied to a dense F32 array), e.g. a freshly initialized model. */
    public static TrainableWeights of(String origin, Map<String, Tensor> tensors) {
        Map<String, Tensor> out = new TreeMap<>();
        tensors.forEach((name, t) -> out.put(name, Tensor.of(t.toFloatArray(), t.shape())));
        return new TrainableWeights(origin, new LinkedHashMap<>(out));
    }

    /** The given tensors themselves, not copied (e.g. an EMA's live shadow arrays, read by a model built over them). */
    public static TrainableWeights view(String origin, Map<String, Tensor> tensors) {
        return new TrainableWeights(origin, new LinkedHashMap<>(new TreeMap<>(tensors)));
    }

    /** The parameters by name, in name order; each tensor's data() is the array the optimizer updates. */
    public Map<String, Tensor> parameters() {
        return tensors;
    }

    public long parameterCount() {
        long n = 0;
        for (Tensor t : tensors.values()) {
            n += t.numel();
        }
        return n;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        Tensor t = tensors.get(name);
        return t == null ? null : new TensorInfo(name, DType.F32, t.shape());
    }

    @Override
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new WeightException(origin + ": missing tensor '" + name + "'");
        }
        return t;
    }

    @Override
    public String origin() {
        return origin;
    }
}
