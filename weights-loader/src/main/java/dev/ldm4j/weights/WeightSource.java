// A set of named tensors: one safetensors file, several shards, or a key-mapped view of a checkpoint
// in another layout. Tensors are host views (usually over a memory-mapped file); nothing is copied
// until an op reads them.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.SegmentStorage;
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

    /**
     * Lets the operating system drop this source's memory-mapped pages from the process's resident memory
     * (MemorySegment.unload, madvise MADV_DONTNEED on Linux); tensors not backed by a mapped file are left alone.
     * Nothing changes for readers: a page read again is mapped again from the file (from the page cache when it is
     * still there). A pipeline calls it for a component it has finished with, so that the text encoder's pages are
     * not resident beside the U-Net's, nor the U-Net's beside the VAE decoder's working memory.
     * The default reads every tensor once to find its storage; a source whose reads are costly (one that computes its
     * tensors) overrides it.
     */
    default void releasePages() {
        for (String name : names()) {
            if (tensor(name).storage() instanceof SegmentStorage s && s.segment().isMapped()) {
                s.segment().unload();
            }
        }
    }

    @Override
    default void close() {
    }
}
