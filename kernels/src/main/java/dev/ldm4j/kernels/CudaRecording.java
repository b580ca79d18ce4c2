// A U-Net step (or any op sequence) recorded as a CUDA graph by CudaBackend.record: stream capture of
// the body's kernel launches on the backend's stream, instantiated once, replayed with cuGraphLaunch.
// The inputs are copied into the recording's own input buffers before each replay (ordinary kernels on
// the same stream, so they finish first); every block the graph touches belongs to the recording's
// allocator pool and stays reserved until close().
package dev.ldm4j.kernels;

import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;

import dev.ldm4j.tensor.Recording;
import dev.ldm4j.tensor.Tensor;
import java.lang.ref.Reference;
import java.util.Arrays;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;

final class CudaRecording implements Recording {
    private final CudaBackend backend;
    private final CudaContext cx;
    private final CUgraph graph;
    private final CUgraphExec exec;
    private final Tensor[] slots;
    private final Tensor output;
    private final DeviceAllocator.Pool pool;
    // The recorded body: it holds what the graph reads besides its inputs (the model's weights, a text
    // context captured by the lambda), so none of those blocks can be collected and reused while the
    // graph may still be replayed.
    private final Object body;
    private boolean closed;

    CudaRecording(CudaBackend backend, CudaContext cx, CUgraph graph, CUgraphExec exec, Tensor[] slots, Tensor output, DeviceAllocator.Pool pool,
                  Object body) {
        this.backend = backend;
        this.cx = cx;
        this.graph = graph;
        this.exec = exec;
        this.slots = slots;
        this.output = output;
        this.pool = pool;
        this.body = body;
    }

    @Override
    public synchronized Tensor run(Tensor... inputs) {
        if (closed) {
            throw new IllegalStateException("this CUDA graph recording is closed");
        }
        if (inputs.length != slots.length) {
            throw new IllegalArgumentException("the recording takes " + slots.length + " inputs, got " + inputs.length);
        }
        for (int i = 0; i < inputs.length; i++) {
            if (!Arrays.equals(inputs[i].shape(), slots[i].shape())) {
                throw new IllegalArgumentException("recording input " + i + " was recorded with shape " + Arrays.toString(slots[i].shape())
                        + ", got " + Arrays.toString(inputs[i].shape()));
            }
        }
        cx.bind();
        for (int i = 0; i < inputs.length; i++) {
            backend.copyInto(inputs[i], slots[i]);
        }
        cuGraphLaunch(exec, cx.stream);
        Reference.reachabilityFence(body);
        return output;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        cx.bind();
        cx.synchronize();
        cuGraphExecDestroy(exec);
        cuGraphDestroy(graph);
        cx.allocator.closePool(pool);
    }
}
