// A Backend that forwards every op to another (the CPU backend) and checks the memory discipline of the
// code above it, as the CUDA backend would need it, on a machine without a GPU:
//  - every op result with a storage of its own is reported to TensorScope, as the CUDA backend reports
//    what it allocates, so scopes release it when they close;
//  - release() fills a host storage with NaN and remembers it; an op given a view of a released storage
//    throws, and any other read of it sees NaN, so a tensor used after a scope freed it fails a test
//    instead of reading memory another op has reused;
//  - releasing a tensor no op made here (a weight, an input) throws;
//  - it counts the bytes of op results still live (made and not released) and their peak: what a
//    device would hold in activations.
package dev.ldm4j.tensor;

import java.util.Arrays;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.function.Supplier;

public final class ReleaseCheckingBackend extends ForwardingBackend {
    // Storages of op results -> released. Weak: a storage nobody can reach can be neither used nor released.
    // FloatStorage is a record over its array, so equal keys mean the same memory.
    private final Map<Storage, Boolean> made = new WeakHashMap<>();
    private long liveBytes;
    private long peakBytes;
    private long madeBytes;

    /** inner must report nothing to TensorScope itself (the CPU backend). */
    public ReleaseCheckingBackend(Backend inner) {
        super(inner);
    }

    /** Bytes of op results made and not yet released (host storages only; dropped references still count). */
    public synchronized long liveBytes() {
        return liveBytes;
    }

    /** The most liveBytes has been since the last resetPeak. */
    public synchronized long peakBytes() {
        return peakBytes;
    }

    /** Bytes of all op results made so far. */
    public synchronized long madeBytes() {
        return madeBytes;
    }

    public synchronized void resetPeak() {
        peakBytes = liveBytes;
    }

    /** True when t's storage was made by an op here and released since. */
    public synchronized boolean isReleased(Tensor t) {
        return Boolean.TRUE.equals(made.get(t.storage()));
    }

    private static long bytes(Storage s) {
        return s.size() * s.dtype().byteSize();
    }

    private synchronized void checkLive(String op, Tensor... args) {
        for (Tensor t : args) {
            if (t != null && Boolean.TRUE.equals(made.get(t.storage()))) {
                throw new IllegalStateException(op + " was given a tensor " + Arrays.toString(t.shape()) + " whose storage was released");
            }
        }
    }

    /** Runs an op: checks its arguments, then reports its result when that has a storage of its own. */
    @Override
    protected Tensor op(String name, long flops, Supplier<Tensor> body, Tensor... args) {
        checkLive(name, args);
        Tensor out = body.get();
        Storage s = out.storage();
        for (Tensor a : args) {
            if (a != null && a.storage().equals(s)) {
                return out;
            }
        }
        synchronized (this) {
            if (made.containsKey(s)) {
                return out;
            }
            made.put(s, Boolean.FALSE);
            liveBytes += bytes(s);
            madeBytes += bytes(s);
            peakBytes = Math.max(peakBytes, liveBytes);
        }
        TensorScope.made(this, out);
        return out;
    }

    @Override
    public void release(Tensor t) {
        Storage s = t.storage();
        synchronized (this) {
            Boolean released = made.get(s);
            if (released == null) {
                throw new IllegalArgumentException("release of a tensor " + Arrays.toString(t.shape()) + " that no op made (a weight or an input?)");
            }
            if (released) {
                return;
            }
            made.put(s, Boolean.TRUE);
            liveBytes -= bytes(s);
        }
        if (s instanceof FloatStorage f) {
            Arrays.fill(f.data(), Float.NaN);
        }
        inner.release(t);
    }

    /** Weights are not op results: checked, never reported. */
    @Override
    public Tensor toDeviceWeight(Tensor host) {
        checkLive("toDeviceWeight", host);
        return inner.toDeviceWeight(host);
    }

    /** A host copy is not device memory: checked, never reported. */
    @Override
    public Tensor toHost(Tensor t) {
        checkLive("toHost", t);
        return inner.toHost(t);
    }
}
