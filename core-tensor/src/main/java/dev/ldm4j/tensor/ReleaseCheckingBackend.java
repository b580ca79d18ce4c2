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
import java.util.function.Function;
import java.util.function.Supplier;

public final class ReleaseCheckingBackend implements Backend {
    private final Backend inner;
    // Storages of op results -> released. Weak: a storage nobody can reach can be neither used nor released.
    // FloatStorage is a record over its array, so equal keys mean the same memory.
    private final Map<Storage, Boolean> made = new WeakHashMap<>();
    private long liveBytes;
    private long peakBytes;
    private long madeBytes;

    /** inner must report nothing to TensorScope itself (the CPU backend). */
    public ReleaseCheckingBackend(Backend inner) {
        this.inner = inner;
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
    private Tensor op(String name, Supplier<Tensor> body, Tensor... args) {
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
    public long peakDeviceMemoryBytes() {
        return inner.peakDeviceMemoryBytes();
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

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public Device device() {
        return inner.device();
    }

    @Override
    public Tensor toDevice(Tensor host) {
        return op("toDevice", () -> inner.toDevice(host), host);
    }

    @Override
    public Tensor toDeviceWeight(Tensor host) {
        checkLive("toDeviceWeight", host);
        return inner.toDeviceWeight(host);
    }

    @Override
    public Recording record(Function<Tensor[], Tensor> body, Tensor... inputs) {
        return null;
    }

    @Override
    public Tensor linearAdd(Tensor x, Tensor w, Tensor bias, Tensor residual) {
        return op("linearAdd", () -> inner.linearAdd(x, w, bias, residual), x, w, bias, residual);
    }

    @Override
    public Tensor conv2dAdd(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor residual) {
        return op("conv2dAdd", () -> inner.conv2dAdd(x, w, bias, stride, padTop, padBottom, padLeft, padRight, residual), x, w, bias, residual);
    }

    @Override
    public Tensor linearGeglu(Tensor x, Tensor w, Tensor bias) {
        return op("linearGeglu", () -> inner.linearGeglu(x, w, bias), x, w, bias);
    }

    @Override
    public Tensor toHost(Tensor t) {
        checkLive("toHost", t);
        return inner.toHost(t);
    }

    @Override
    public Tensor contiguous(Tensor t) {
        return op("contiguous", () -> inner.contiguous(t), t);
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        return op("matmul", () -> inner.matmul(a, b), a, b);
    }

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias, Activation act) {
        return op("linear", () -> inner.linear(x, w, bias, act), x, w, bias);
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        return op("conv2d", () -> inner.conv2d(x, w, bias, stride, padTop, padBottom, padLeft, padRight), x, w, bias);
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        return op("groupNorm", () -> inner.groupNorm(x, groups, gamma, beta, eps, silu), x, gamma, beta);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        return op("layerNorm", () -> inner.layerNorm(x, gamma, beta, eps), x, gamma, beta);
    }

    @Override
    public Tensor softmax(Tensor x) {
        return op("softmax", () -> inner.softmax(x), x);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        return op("attention", () -> inner.attention(q, k, v, heads, scale, causal), q, k, v);
    }

    @Override
    public Tensor activation(Tensor x, Activation act) {
        return op("activation", () -> inner.activation(x, act), x);
    }

    @Override
    public Tensor geglu(Tensor x) {
        return op("geglu", () -> inner.geglu(x), x);
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return op("add", () -> inner.add(a, b), a, b);
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return op("sub", () -> inner.sub(a, b), a, b);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return op("mul", () -> inner.mul(a, b), a, b);
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        return op("scale", () -> inner.scale(x, s), x);
    }

    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        return op("clamp", () -> inner.clamp(x, lo, hi), x);
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        return op("upsampleNearest2x", () -> inner.upsampleNearest2x(x), x);
    }

    @Override
    public Tensor concat(int dim, Tensor... parts) {
        return op("concat", () -> inner.concat(dim, parts), parts);
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift) {
        return op("timestepEmbedding", () -> inner.timestepEmbedding(timesteps, dim, flipSinToCos, downscaleFreqShift));
    }

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        return op("embedding", () -> inner.embedding(table, ids), table);
    }

    @Override
    public Tensor sum(Tensor x, int dim) {
        return op("sum", () -> inner.sum(x, dim), x);
    }

    @Override
    public Tensor mean(Tensor x, int dim) {
        return op("mean", () -> inner.mean(x, dim), x);
    }

    @Override
    public void close() {
        inner.close();
    }
}
