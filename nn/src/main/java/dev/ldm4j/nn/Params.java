// A scope in the weight tree. Model classes open child scopes with the literal key segments of the
// diffusers layout (p.child("down_blocks").child(0).child("resnets")), so that the string passed to
// child() is the one place a checkpoint name appears. Every tensor taken is recorded, so a loader can
// report the tensors nothing used.
package dev.ldm4j.nn;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

public final class Params {
    private final WeightSource source;
    private final Backend backend;
    private final String prefix;
    private final Set<String> used;
    private final Initializer initializer;
    private final Map<String, Tensor> created;

    /** Makes the initial value of a parameter that a new model asks for, from its full key and shape. */
    @FunctionalInterface
    public interface Initializer {
        Tensor create(String key, int[] shape);
    }

    private Params(WeightSource source, Backend backend, String prefix, Set<String> used, Initializer initializer,
                   Map<String, Tensor> created) {
        this.source = source;
        this.backend = backend;
        this.prefix = prefix;
        this.used = used;
        this.initializer = initializer;
        this.created = created;
    }

    /** The root scope over a source; tensors are moved to the backend's device as they are taken. */
    public static Params root(WeightSource source, Backend backend) {
        return new Params(source, backend, "", new LinkedHashSet<>(), null, null);
    }

    /**
     * The root scope of a new model: every tensor the model asks for is made by initializer, in the order
     * the model's constructors ask (so a seeded initializer gives the same weights every time), and kept in
     * created(). Building a model over this scope is how its parameter names and shapes are found.
     */
    public static Params initializing(Backend backend, Initializer initializer) {
        return new Params(new MapSource(), backend, "", new LinkedHashSet<>(), initializer, new LinkedHashMap<>());
    }

    /** The tensors an initializing root has made, by full key, in creation order (empty for other scopes). */
    public Map<String, Tensor> created() {
        return created == null ? Map.of() : Collections.unmodifiableMap(created);
    }

    public Params child(String segment) {
        return new Params(source, backend, prefix + segment + ".", used, initializer, created);
    }

    public Params child(int index) {
        return child(Integer.toString(index));
    }

    public Backend backend() {
        return backend;
    }

    /** The full key of a tensor in this scope. */
    public String key(String name) {
        return prefix + name;
    }

    public boolean has(String name) {
        return source.info(key(name)) != null || (created != null && created.containsKey(key(name)));
    }

    /** Shape of a tensor in this scope, or null when absent (for inferring sizes from weights). */
    public int[] shapeOf(String name) {
        TensorInfo info = source.info(key(name));
        return info == null ? null : info.shape();
    }

    /**
     * The tensor key(name) on the backend's device, checked against the expected shape (pass no
     * dimensions to skip the check). Throws WeightException naming the key when it is missing or
     * mis-shaped.
     */
    public Tensor tensor(String name, int... expectedShape) {
        String k = key(name);
        TensorInfo info = source.info(k);
        if (info == null && initializer != null && expectedShape.length > 0) {
            Tensor t = created.computeIfAbsent(k, key -> initializer.create(key, expectedShape.clone()));
            used.add(k);
            return backend.toDeviceWeight(t);
        }
        if (info == null) {
            throw new WeightException(source.origin() + ": missing tensor '" + k + "'"
                    + (expectedShape.length > 0 ? " (expected shape " + Arrays.toString(expectedShape) + ")" : ""));
        }
        if (expectedShape.length > 0 && !Arrays.equals(info.shape(), expectedShape)) {
            throw new WeightException(source.origin() + ": tensor '" + k + "' has shape " + Arrays.toString(info.shape())
                    + ", expected " + Arrays.toString(expectedShape));
        }
        used.add(k);
        return backend.toDeviceWeight(source.tensor(k));
    }

    /** Like tensor(), but null when the key is absent. */
    public Tensor optional(String name, int... expectedShape) {
        return has(name) ? tensor(name, expectedShape) : null;
    }

    /** Names in the source that no scope sharing this root has taken, sorted. */
    public Set<String> unused() {
        Set<String> rest = new TreeSet<>(source.names());
        rest.removeAll(used);
        return rest;
    }

    public Set<String> used() {
        return Set.copyOf(used);
    }

    /** The empty source under an initializing root. */
    private static final class MapSource implements WeightSource {
        @Override
        public Set<String> names() {
            return Set.of();
        }

        @Override
        public TensorInfo info(String name) {
            return null;
        }

        @Override
        public Tensor tensor(String name) {
            throw new WeightException("new model: no tensor '" + name + "'");
        }

        @Override
        public String origin() {
            return "new model";
        }
    }
}
