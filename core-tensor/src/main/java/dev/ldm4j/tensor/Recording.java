// A computation recorded once by Backend.record and replayed with new inputs: on the CUDA backend a
// CUDA graph, so a whole U-Net step costs one launch instead of hundreds.
package dev.ldm4j.tensor;

public interface Recording extends AutoCloseable {
    /**
     * Copies inputs (same shapes as at recording, in the same order) into the recording's input
     * buffers, replays the work and returns its output. The output tensor is the recording's own buffer:
     * it is overwritten by the next run, so read or copy it first.
     */
    Tensor run(Tensor... inputs);

    /** Waits for the device and releases the recording and its memory. */
    @Override
    void close();
}
