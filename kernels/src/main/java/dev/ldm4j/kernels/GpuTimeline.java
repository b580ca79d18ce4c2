// Marks on the CUDA backend's stream (CUDA events) for attributing GPU time to stretches of work without
// waiting after each one: mark() between ops, then, after finish(), millisBetween(a, b).
package dev.ldm4j.kernels;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;

import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;

public final class GpuTimeline implements AutoCloseable {
    private final CudaContext cx;
    private final List<CUevent> events = new ArrayList<>();

    GpuTimeline(CudaContext cx) {
        this.cx = cx;
    }

    /** Records a mark after the work enqueued so far; returns its index. */
    public int mark() {
        cx.bind();
        CUevent e = new CUevent();
        cuEventCreate(e, CUevent_flags.CU_EVENT_DEFAULT);
        cuEventRecord(e, cx.stream);
        events.add(e);
        return events.size() - 1;
    }

    /** Waits for the last mark. */
    public void finish() {
        if (!events.isEmpty()) {
            cuEventSynchronize(events.getLast());
        }
    }

    /** GPU milliseconds between two marks (after finish()). */
    public float millisBetween(int a, int b) {
        float[] ms = new float[1];
        cuEventElapsedTime(ms, events.get(a), events.get(b));
        return ms[0];
    }

    @Override
    public void close() {
        for (CUevent e : events) {
            cuEventDestroy(e);
        }
        events.clear();
    }
}
