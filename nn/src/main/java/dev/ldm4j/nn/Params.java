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
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeSet;

public final class Params {
    private final WeightSource source;
    private final Backend backend;
    private final String prefix;
    private final Set<String> used;

    private Params(WeightSource source, Backend backend, String prefix, Set<String> used) {
        this.source = source;
        this.backend = backend;
        this.prefix = prefix;
        this.used = used;
    }

    /** The root scope over a source; tensors are moved to the backend's device as they are taken. */
    public static Params root(WeightSource source, Backend backend) {
        return new Params(source, backend, "", new LinkedHashSet<>());
    }

    public Params child(String segment) {
        return new Params(source, backend, prefix + segment + ".", used);
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
        return source.info(key(name)) != null;
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
}
