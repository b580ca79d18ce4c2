// A set of named tensors: one safetensors file, several shards, or a key-mapped view of a checkpoint
// in another layout. Tensors are host views (usually over a memory-mapped file); nothing is copied
// until an op reads them.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.Tensor;

import java.util.Set;

public interface WeightSource extends AutoCloseable {
    /** All tensor names, in a stable order. */
    Set<String> names();

    /** Dtype and shape of one tensor, or null when absent. */
    TensorInfo info(String name);

    /** The tensor as a read-only host view; throws WeightException naming the key when absent. */
    Tensor tensor(String name);

    /** Where the tensors come from, for messages (a file path, or a description). */
    String origin();

    @Override
    default void close() {
    }
}
