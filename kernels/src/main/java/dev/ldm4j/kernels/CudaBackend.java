// The CUDA implementation of every Backend primitive: each op checks its arguments, allocates its result
// from the caching allocator and enqueues our own kernels (src/main/cuda, loaded as PTX) on one stream
// through JCuda's driver API. Only toHost waits for the GPU. Results are dense row-major F32 tensors on
// the device; F16/BF16 weights are widened once on the device into an F32 twin of their storage. In the
// FP16/BF16 precisions (CudaPrecision) linear, matmul and conv2d run on tensor cores instead, with the
// weights held in the 16-bit type (a twin made once when they arrive in another dtype).
package dev.ldm4j.kernels;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Device;
import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.Recording;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.function.Function;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstreamCaptureMode;

public final class CudaBackend implements Backend {
    private static final int THREADS = 256;
    private static final int MAX_RANK = 8;
    private static final int ATTENTION_CHUNK = 1024;

    private final CudaContext cx;
    private final CudaPrecision precision;

    CudaBackend(CudaContext cx, CudaPrecision precision) {
        this.cx = cx;
        this.precision = precision;
    }

    /** The precision of this backend's matrix products. */
    public CudaPrecision precision() {
        return precision;
    }

    /** A backend on the same device, stream and memory whose matrix products use precision p. */
    public CudaBackend withPrecision(CudaPrecision p) {
        return p == precision ? this : new CudaBackend(cx, p);
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public Device device() {
        return Device.CUDA;
    }

    /** The GPU's name, compute capability, multiprocessors and driver, for logs. */
    public String describe() {
        return cx.deviceName + " (sm_" + cx.computeCapability + ", " + cx.multiprocessors + " SMs, driver CUDA "
                + Ptx.cudaVersionLabel(cx.driverVersion) + "; matrix products " + precision.label() + ")";
    }

    /** Allocator statistics, for logs. */
    public String memoryStats() {
        return cx.allocator.stats();
    }

    /** Number of cuMemAlloc calls the caching allocator has made so far. */
    public long deviceAllocationCount() {
        return cx.allocator.deviceAllocations();
    }

    /** Frees every cached (unused) device block. */
    public void trimCache() {
        cx.bind();
        cx.allocator.trim();
    }

    /** Waits until every enqueued op has run. */
    public void synchronize() {
        cx.bind();
        cx.synchronize();
    }

    /**
     * GPU time of the work body enqueues, in milliseconds, measured with CUDA events on the backend's
     * stream (waits for it to finish).
     */
    public float timeMillis(Runnable body) {
        cx.bind();
        CUevent start = new CUevent(), end = new CUevent();
        cuEventCreate(start, CUevent_flags.CU_EVENT_DEFAULT);
        cuEventCreate(end, CUevent_flags.CU_EVENT_DEFAULT);
        try {
            cuEventRecord(start, cx.stream);
            body.run();
            cuEventRecord(end, cx.stream);
            cuEventSynchronize(end);
            float[] ms = new float[1];
            cuEventElapsedTime(ms, start, end);
            return ms[0];
        } finally {
            cuEventDestroy(start);
            cuEventDestroy(end);
        }
    }

    /** A new timeline of marks on this backend's stream. */
    public GpuTimeline timeline() {
        return new GpuTimeline(cx);
    }

    /** A device-to-device copy of bytes bytes (for measuring the memory-bandwidth ceiling). */
    public void copyBytes(Tensor dst, Tensor src, long bytes) {
        cx.bind();
        cuMemcpyDtoDAsync(ptr(dst), ptr(src), bytes, cx.stream);
        Reference.reachabilityFence(dst);
        Reference.reachabilityFence(src);
    }

    // ---------------------------------------------------------------- memory and copies

    /** A new dense F32 device tensor (contents undefined), reported to the open TensorScope, if any. */
    public Tensor empty(int... shape) {
        long n = Tensor.numel(shape);
        Tensor t = Tensor.of(new CudaStorage(cx.allocator, DType.F32, n), shape);
        TensorScope.made(this, t);
        return t;
    }

    /**
     * Gives t's block back to the allocator now, for the next op of the same size to reuse (stream order
     * makes that safe: ops already launched that read it run first). Later use of t throws.
     */
    @Override
    public void release(Tensor t) {
        if (!(t.storage() instanceof CudaStorage s)) {
            throw new IllegalArgumentException("release of a tensor " + Arrays.toString(t.shape()) + " that is not on the GPU");
        }
        if (s.longLived()) {
            throw new IllegalArgumentException("release of a model weight " + Arrays.toString(t.shape()) + "; only op results can be released");
        }
        s.release();
    }

    /**
     * Releases made, a temporary an op derived from its argument from (a dense or device copy), once the
     * op's kernels are launched: stream order lets the next op reuse it. Nothing happens when made is from
     * itself or a view of its storage, or a weight's twin.
     */
    private static void releaseDerived(Tensor made, Tensor from) {
        if (made != null && from != null && made.storage() != from.storage() && made.storage() instanceof CudaStorage s && !s.longLived()) {
            s.release();
        }
    }

    @Override
    public Tensor toDevice(Tensor host) {
        return toDevice(host, false);
    }

    /** toDevice; longLived sizes the block exactly (weights). */
    private Tensor toDevice(Tensor host, boolean longLived) {
        cx.bind();
        if (host.device() == Device.CUDA) {
            return host;
        }
        long n = host.numel();
        CudaStorage s;
        if (denseOnHost(host)) {
            s = new CudaStorage(cx.allocator, host.dtype(), n, longLived);
            upload(hostBytes(host), s);
        } else {
            s = new CudaStorage(cx.allocator, DType.F32, n, longLived);
            upload(MemorySegment.ofArray(host.toFloatArray()), s);
        }
        Tensor t = Tensor.of(s, host.shape());
        if (!longLived) {
            TensorScope.made(this, t);
        }
        return t;
    }

    /** A contiguous host tensor whose bytes can be uploaded as they are (heap floats or a memory segment). */
    private static boolean denseOnHost(Tensor host) {
        return host.isContiguous() && (host.storage() instanceof FloatStorage || host.storage() instanceof SegmentStorage);
    }

    /** The bytes of a denseOnHost tensor. */
    private static MemorySegment hostBytes(Tensor host) {
        long n = host.numel(), b = host.dtype().byteSize();
        return host.storage() instanceof FloatStorage fs
                ? MemorySegment.ofArray(fs.data()).asSlice(host.offset() * 4, n * 4)
                : ((SegmentStorage) host.storage()).segment().asSlice(host.offset() * b, n * b);
    }

    /**
     * In the FP16/BF16 modes a matrix (rank >= 2, F32/F16/BF16) is stored only in the operand type: its
     * bytes go up in staging-buffer chunks into one reusable device scratch block and are narrowed there
     * by the convert kernels, so no full-size F32 copy ever exists on the device. F32 ops that read such a
     * weight later get an F32 twin made on first use. Everything else is toDevice.
     */
    @Override
    public Tensor toDeviceWeight(Tensor host) {
        DType want = precision.operandType();
        DType have = host.dtype();
        boolean narrow = tensorCores() && host.device() != Device.CUDA && host.rank() >= 2 && have != want
                && (have == DType.F32 || have == DType.F16 || have == DType.BF16) && denseOnHost(host);
        if (!narrow) {
            return toDevice(host, true);
        }
        cx.bind();
        long n = host.numel(), b = have.byteSize();
        MemorySegment src = hostBytes(host);
        CudaStorage out = new CudaStorage(cx.allocator, want, n, true);
        CudaStorage scratch = cx.uploadScratch();
        MemorySegment staging = MemorySegment.ofBuffer(cx.staging);
        String fn = "convert_" + dtypeLabel(have) + "_" + dtypeLabel(want);
        for (long at = 0; at < n * b; at += CudaContext.STAGING_BYTES) {
            long len = Math.min(CudaContext.STAGING_BYTES, n * b - at);
            long count = len / b;
            MemorySegment.copy(src, at, staging, 0, len);
            cuMemcpyHtoDAsync(scratch.pointer(0), cx.stagingPointer, len, cx.stream);
            launch("convert", fn, gridFor(count), 1, THREADS, 0, count, rawTensor(scratch),
                    new Tensor(out, new int[] {(int) count}, new long[] {1}, at / b));
            cx.synchronize();
        }
        return Tensor.of(out, host.shape());
    }

    /**
     * Records body as a CUDA graph (stream capture in relaxed mode on this backend's stream). The inputs
     * are first copied into input buffers of the recording's own; body runs on those while the stream is
     * captured (its kernels are recorded, not run), and everything it allocates comes from a pool that
     * stays reserved for the graph (DeviceAllocator); afterwards the shared cache is emptied, since replays
     * allocate nothing. Nothing runs until the first Recording.run. Throws
     * with the driver's reason when capture fails (an op that synchronizes or copies to the host, for
     * example); body should have run once eagerly before, so that modules are loaded and weight twins made.
     */
    @Override
    public Recording record(Function<Tensor[], Tensor> body, Tensor... inputs) {
        cx.bind();
        cx.synchronize();
        // Dead blocks of the eager work before (e.g. the step just run) go back to the device first: the
        // recording's pool cannot use the shared cache, so it would otherwise hold a second working set.
        cx.allocator.collectAndTrim();
        DeviceAllocator.Pool pool = cx.allocator.beginRecording();
        boolean capturing = false, recorded = false;
        // The input buffers and the output belong to the recording, not to the caller's TensorScope.
        TensorScope.Suspension scopes = TensorScope.suspend();
        try {
            Tensor[] slots = new Tensor[inputs.length];
            for (int i = 0; i < inputs.length; i++) {
                slots[i] = empty(inputs[i].shape());
                copyInto(inputs[i], slots[i]);
            }
            cuStreamBeginCapture(cx.stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED);
            capturing = true;
            Tensor out = contiguous(body.apply(slots.clone()));
            CUgraph graph = new CUgraph();
            capturing = false;
            cuStreamEndCapture(cx.stream, graph);
            CUgraphExec exec = new CUgraphExec();
            try {
                cuGraphInstantiate(exec, graph, 0);
            } catch (RuntimeException | LinkageError e) {
                cuGraphDestroy(graph);
                throw e;
            }
            cx.allocator.endRecording();
            // The blocks that died during recording (collections run there) are not needed by the replays.
            cx.allocator.trim();
            recorded = true;
            return new CudaRecording(this, cx, graph, exec, slots, out, pool, body);
        } catch (RuntimeException | LinkageError e) {
            throw new IllegalStateException("CUDA graph recording failed: " + e.getMessage(), e);
        } finally {
            if (capturing) {
                // body failed (any Throwable) while the stream was capturing: end the capture so that later
                // launches run again, and drop what was captured.
                CUgraph partial = new CUgraph();
                try {
                    cuStreamEndCapture(cx.stream, partial);
                    cuGraphDestroy(partial);
                } catch (RuntimeException ignored) {
                    // the capture was invalidated; ending it has restored the stream, there is no graph
                }
            }
            scopes.close();
            cx.allocator.endRecording();
            if (!recorded) {
                cx.synchronize();
                cx.allocator.closePool(pool);
            }
        }
    }

    /** Copies src's contents into the dense F32 tensor dst of the same shape (a recording's input buffer). */
    void copyInto(Tensor src, Tensor dst) {
        copyStrided(f32(src), dst);
    }

    /** Resets the allocator's peak to what is held now (live + cached), for measuring one stretch of work. */
    public void resetPeakMemory() {
        cx.allocator.resetPeak();
    }

    /** The most device memory the allocator has held (live + cached) since the last resetPeakMemory. */
    @Override
    public long peakDeviceMemoryBytes() {
        return cx.allocator.peakBytes();
    }

    private void upload(MemorySegment src, CudaStorage dst) {
        MemorySegment staging = MemorySegment.ofBuffer(cx.staging);
        long total = src.byteSize();
        for (long at = 0; at < total; at += CudaContext.STAGING_BYTES) {
            long len = Math.min(CudaContext.STAGING_BYTES, total - at);
            MemorySegment.copy(src, at, staging, 0, len);
            cuMemcpyHtoDAsync(dst.pointer(0).withByteOffset(at), cx.stagingPointer, len, cx.stream);
            cx.synchronize();
        }
    }

    private CudaStorage uploadInts(int[] values) {
        CudaStorage s = new CudaStorage(cx.allocator, DType.I32, values.length);
        upload(MemorySegment.ofArray(values), s);
        return s;
    }

    @Override
    public Tensor toHost(Tensor t) {
        if (t.device() == Device.CPU) {
            return Tensor.of(t.toFloatArray(), t.shape());
        }
        cx.bind();
        Tensor d = contiguous(t);
        float[] out = new float[Math.toIntExact(d.numel())];
        MemorySegment dst = MemorySegment.ofArray(out);
        MemorySegment staging = MemorySegment.ofBuffer(cx.staging);
        CUdeviceptr base = ptr(d);
        long total = out.length * 4L;
        for (long at = 0; at < total; at += CudaContext.STAGING_BYTES) {
            long len = Math.min(CudaContext.STAGING_BYTES, total - at);
            cuMemcpyDtoHAsync(cx.stagingPointer, base.withByteOffset(at), len, cx.stream);
            cx.synchronize();
            MemorySegment.copy(staging, 0, dst, at, len);
        }
        Reference.reachabilityFence(d);
        return Tensor.of(out, t.shape());
    }

    /** t on this device as F32 with its own view (shape, strides, offset); F16/BF16 read via an F32 twin. */
    private Tensor f32(Tensor t) {
        Tensor d = toDevice(t);
        if (d.dtype() == DType.F32) {
            return d;
        }
        if (d.dtype() != DType.F16 && d.dtype() != DType.BF16) {
            throw new IllegalArgumentException("unsupported dtype " + d.dtype() + " for tensor " + Arrays.toString(d.shape()) + "; expected F32, F16 or BF16");
        }
        return twinView(d, DType.F32);
    }

    /**
     * t on this device in the tensor-core operand type (F16 or BF16) with its own view: t itself when it
     * has that dtype, else a view of a twin of its storage converted once on the device.
     */
    private Tensor operand16(Tensor t) {
        Tensor d = toDevice(t);
        DType want = precision.operandType();
        if (d.dtype() == want) {
            return d;
        }
        if (d.dtype() != DType.F32 && d.dtype() != DType.F16 && d.dtype() != DType.BF16) {
            throw new IllegalArgumentException("unsupported dtype " + d.dtype() + " for tensor " + Arrays.toString(d.shape()) + "; expected F32, F16 or BF16");
        }
        return twinView(d, want);
    }

    /** The view d (shape, strides, offset) over its storage's twin of dtype want, made on first use. */
    private Tensor twinView(Tensor d, DType want) {
        CudaStorage s = (CudaStorage) d.storage();
        s.checkLive();
        CudaStorage twin = s.twin(want);
        if (twin == null) {
            twin = new CudaStorage(cx.allocator, want, s.size(), true);
            String fn = "convert_" + dtypeLabel(d.dtype()) + "_" + dtypeLabel(want);
            launch("convert", fn, gridFor(s.size()), 1, THREADS, 0, s.size(), rawTensor(s), rawTensor(twin));
            s.setTwin(want, twin);
        }
        return new Tensor(twin, d.shape(), d.strides(), d.offset());
    }

    private static String dtypeLabel(DType t) {
        return switch (t) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            default -> throw new IllegalArgumentException("no conversion for dtype " + t);
        };
    }

    private boolean tensorCores() {
        return precision != CudaPrecision.FP32;
    }

    private static Tensor rawTensor(CudaStorage s) {
        return new Tensor(s, new int[] {Math.toIntExact(Math.max(1, Math.min(s.size(), Integer.MAX_VALUE)))}, new long[] {1}, 0);
    }

    @Override
    public Tensor contiguous(Tensor t) {
        Tensor d = f32(t);
        if (d.isContiguous()) {
            return d;
        }
        Tensor out = empty(d.shape());
        copyStrided(d, out);
        return out;
    }

    /**
     * Copies src's logical contents (any float dtype, any strides) into the F32 view dst of equal shape.
     * After merging dimensions (StridedLayout), rows that are unit-stride on both sides go through
     * copy_rows, a batch of transposes (src unit-stride along the second-last dimension, dst along the
     * last) through the tiled transpose, anything else through the per-element copy_strided.
     */
    private void copyStrided(Tensor src, Tensor dst) {
        long n = src.numel();
        if (n == 0) {
            return;
        }
        checkRank(src);
        String type = switch (src.dtype()) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            default -> throw new IllegalArgumentException("cannot copy a " + src.dtype() + " tensor");
        };
        StridedLayout l = StridedLayout.coalesce(src.shape(), src.strides(), dst.strides());
        int r = l.rank();
        long[] shape = l.shape(), ss = l.strides()[0], ds = l.strides()[1];
        if (ss[r - 1] == 1 && ds[r - 1] == 1 && shape[r - 1] >= 32) {
            long rows = n / shape[r - 1];
            int grid = (int) Math.min(rows, (long) cx.multiprocessors * 32);
            launch("elementwise", "copy_rows_" + type, grid, 1, THREADS, 0, rows, shape[r - 1], r, dims(shape), dims(ss), dims(ds), src, dst);
            return;
        }
        if ((r == 2 || r == 3) && ss[r - 2] == 1 && ds[r - 1] == 1 && shape[r - 2] >= 8 && shape[r - 1] >= 8 && l.narrow()) {
            long batches = r == 3 ? shape[0] : 1;
            if (batches <= 65535 && (shape[r - 2] + 31) / 32 <= 65535) {
                int rowsR = (int) shape[r - 2], colsC = (int) shape[r - 1];
                launch3("elementwise", "transpose_" + type, ceilDiv(colsC, 32), ceilDiv(rowsR, 32), (int) batches, THREADS, 0, rowsR, colsC,
                        r == 3 ? ss[0] : 0L, ss[r - 1], r == 3 ? ds[0] : 0L, ds[r - 2], src, dst);
                return;
            }
        }
        launch("elementwise", "copy_strided_" + type, gridFor(n), 1, THREADS, 0, n, r, dims(shape), dims(ss), dims(ds), src, dst, l.narrow() ? 1 : 0);
    }

    // ---------------------------------------------------------------- matrix products

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        if (a.rank() < 2 || b.rank() < 2) {
            throw new IllegalArgumentException("matmul needs rank >= 2 operands, got " + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()));
        }
        int m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        if (b.dim(-2) != k) {
            throw new IllegalArgumentException("matmul inner sizes differ: " + Arrays.toString(a.shape()) + " x " + Arrays.toString(b.shape()));
        }
        int[] batch = broadcastShape(Arrays.copyOf(a.shape(), a.rank() - 2), Arrays.copyOf(b.shape(), b.rank() - 2), "matmul", a, b);
        if (batch.length > MAX_RANK) {
            throw new IllegalArgumentException("matmul supports at most " + MAX_RANK + " batch dimensions, got " + batch.length);
        }
        int[] outShape = Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = m;
        outShape[batch.length + 1] = n;
        Tensor af = f32(a).broadcastTo(concat(batch, m, k));
        Tensor bf = f32(b).broadcastTo(concat(batch, k, n));
        long batches = Tensor.numel(batch);
        if (batches > 65535) {
            throw new IllegalArgumentException("matmul batch of " + batches + " exceeds 65535");
        }
        Tensor out = empty(outShape);
        if (out.numel() == 0) {
            return out;
        }
        long[] as = af.strides(), bs = bf.strides();
        int r = batch.length;
        gemm(m, n, k, af, bf, null, out, as[r], as[r + 1], bs[r], bs[r + 1], batch,
                Arrays.copyOf(as, r), Arrays.copyOf(bs, r), Activation.NONE, (int) batches, null);
        return out;
    }

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias, Activation act) {
        return linear(x, w, bias, act, null);
    }

    /** The residual is added in the product's epilogue (gemm.cu / gemm_mma.cu). */
    @Override
    public Tensor linearAdd(Tensor x, Tensor w, Tensor bias, Tensor residual) {
        return linear(x, w, bias, Activation.NONE, residual);
    }

    /**
     * In the FP16/BF16 modes GEGLU's gate is applied in the tensor-core product's epilogue
     * (gemm_geglu_mma): the kernel reads the weight's value and gate rows interleaved (no copy), so each
     * accumulator pair is a value and its gate, and the [.., 2F] projection is never written. The fp32
     * mode composes linear and geglu.
     */
    @Override
    public Tensor linearGeglu(Tensor x, Tensor w, Tensor bias) {
        if (!tensorCores() || w.rank() != 2 || w.dim(0) % 2 != 0 || x.rank() < 1 || x.dim(-1) != w.dim(1)
                || (bias != null && (bias.rank() != 1 || bias.dim(0) != w.dim(0)))) {
            Tensor h = linear(x, w, bias, Activation.NONE);                     // [..., 2F]
            Tensor out = geglu(h);
            release(h);
            return out;
        }
        int n = w.dim(0), k = w.dim(1), f = n / 2;
        Tensor w16 = operand16(w.isContiguous() ? w : contiguous(w));
        Tensor bc = bias == null ? null : contiguous(bias);
        Tensor xc = contiguous(x);
        Tensor out = empty(withLastDim(x.shape(), f));
        int rows = Math.toIntExact(x.numel() / Math.max(1, k));
        if (out.numel() == 0) {
            return out;
        }
        int tile = tileFor((long) ceilDiv(rows, 128) * ceilDiv(n, 128));
        launch("gemm_mma", "gemm_geglu_mma_" + tile + "_" + dtypeLabel(precision.operandType()), ceilDiv(n, tile), ceilDiv(rows, tile),
                THREADS, 0, rows, n, k, xc, w16, bc, out);
        releaseDerived(xc, x);
        releaseDerived(bc, bias);
        return out;
    }

    private Tensor linear(Tensor x, Tensor w, Tensor bias, Activation act, Tensor residual) {
        if (w.rank() != 2 || x.rank() < 1 || x.dim(-1) != w.dim(1)) {
            throw new IllegalArgumentException("linear: input " + Arrays.toString(x.shape()) + " does not match weight " + Arrays.toString(w.shape()) + " [N, K]");
        }
        int n = w.dim(0), k = w.dim(1);
        if (bias != null && (bias.rank() != 1 || bias.dim(0) != n)) {
            throw new IllegalArgumentException("linear: bias " + Arrays.toString(bias.shape()) + " should be [" + n + "]");
        }
        Tensor xc = contiguous(x);
        Tensor wf = tensorCores() ? operand16(w) : f32(w);
        Tensor bc = bias == null ? null : contiguous(bias);
        Tensor out = empty(withLastDim(x.shape(), n));
        int rows = Math.toIntExact(x.numel() / Math.max(1, k));
        if (out.numel() == 0) {
            return out;
        }
        long[] ws = wf.strides();
        Tensor rc = residualFor(residual, out, "linear");
        gemm(rows, n, k, xc, wf, bc, out, k, 1, ws[1], ws[0], new int[0], new long[0], new long[0], act, 1, rc);
        releaseDerived(xc, x);
        releaseDerived(bc, bias);
        releaseDerived(rc, residual);
        return out;
    }

    /** 128 tiles when a product has at least one per multiprocessor, else 64 tiles (more blocks). */
    private int tileFor(long tiles128) {
        return tiles128 >= cx.multiprocessors ? 128 : 64;
    }

    private static int[] withLastDim(int[] shape, int last) {
        int[] s = shape.clone();
        s[s.length - 1] = last;
        return s;
    }

    /** The residual of a fused add as a dense F32 tensor shaped like out (null stays null). */
    private Tensor residualFor(Tensor residual, Tensor out, String op) {
        if (residual == null) {
            return null;
        }
        if (!Arrays.equals(residual.shape(), out.shape())) {
            throw new IllegalArgumentException(op + " + add: residual " + Arrays.toString(residual.shape()) + " does not match the output "
                    + Arrays.toString(out.shape()));
        }
        return contiguous(residual);
    }

    /**
     * C = act(A B + bias) for F32 A; B is F32, or (tensor-core precisions only) already in the operand
     * type. In FP16/BF16 the gemm_mma kernels round F32 operands while staging them.
     */
    private void gemm(int m, int n, int k, Tensor a, Tensor b, Tensor bias, Tensor c, long sam, long sak, long sbk, long sbn,
                      int[] batch, long[] aBatch, long[] bBatch, Activation act, int batches, Tensor residual) {
        int tile = tileFor((long) ceilDiv(m, 128) * ceilDiv(n, 128) * batches);
        String order = (sak == 1 ? "_ak" : "_am") + (sbn == 1 ? "_bn" : "_bk");
        String module = "gemm", symbol = "gemm_" + tile + order + "_f32";
        if (tensorCores()) {
            module = "gemm_mma";
            symbol = "gemm_mma_" + tile + order + (b.dtype() == DType.F32 ? "_bf32_" : "_b16_") + dtypeLabel(precision.operandType());
        }
        launch3(module, symbol, ceilDiv(n, tile), ceilDiv(m, tile), batches, THREADS, 0,
                m, n, k, a, b, bias, c, sam, sak, sbk, sbn, batch.length, dims(batch), dims(aBatch), dims(bBatch), actCode(act), residual);
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        return conv2d(x, w, bias, stride, padTop, padBottom, padLeft, padRight, null);
    }

    /**
     * The residual is added in the convolution's epilogue (conv2d.cu / conv2d_mma.cu) when it is shaped
     * like the output or is one value per image and channel ([N or 1, O, 1, 1], a ResNet block's time
     * embedding); any other broadcast composes conv2d and add.
     */
    @Override
    public Tensor conv2dAdd(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor residual) {
        int[] r = residual.shape();
        boolean ranks = x.rank() == 4 && w.rank() == 4 && r.length == 4 && stride > 0;
        boolean perChannel = ranks && r[2] == 1 && r[3] == 1 && r[1] == w.dim(0) && (r[0] == x.dim(0) || r[0] == 1);
        boolean full = ranks && Arrays.equals(r, new int[] {x.dim(0), w.dim(0), (x.dim(2) + padTop + padBottom - w.dim(2)) / stride + 1,
                (x.dim(3) + padLeft + padRight - w.dim(3)) / stride + 1});
        if (!perChannel && !full) {
            Tensor y = conv2d(x, w, bias, stride, padTop, padBottom, padLeft, padRight);
            Tensor out = add(y, residual);
            release(y);
            return out;
        }
        return conv2d(x, w, bias, stride, padTop, padBottom, padLeft, padRight, residual);
    }

    private Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor residual) {
        if (x.rank() != 4 || w.rank() != 4 || x.dim(1) != w.dim(1)) {
            throw new IllegalArgumentException("conv2d: input " + Arrays.toString(x.shape()) + " [N, C, H, W] does not match weight "
                    + Arrays.toString(w.shape()) + " [O, C, kh, kw]");
        }
        if (stride < 1 || padTop < 0 || padBottom < 0 || padLeft < 0 || padRight < 0) {
            throw new IllegalArgumentException("conv2d: stride " + stride + " must be >= 1 and padding non-negative");
        }
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), o = w.dim(0), kh = w.dim(2), kw = w.dim(3);
        int oh = (h + padTop + padBottom - kh) / stride + 1, ow = (wd + padLeft + padRight - kw) / stride + 1;
        if (h + padTop + padBottom < kh || wd + padLeft + padRight < kw) {
            throw new IllegalArgumentException("conv2d: kernel " + kh + "x" + kw + " is larger than the padded input " + Arrays.toString(x.shape()));
        }
        if (bias != null && (bias.rank() != 1 || bias.dim(0) != o)) {
            throw new IllegalArgumentException("conv2d: bias " + Arrays.toString(bias.shape()) + " should be [" + o + "]");
        }
        Tensor xc = contiguous(x), bc = bias == null ? null : contiguous(bias);
        Tensor wc = !tensorCores() ? contiguous(w) : operand16(w.isContiguous() ? w : contiguous(w));
        Tensor out = empty(n, o, oh, ow);
        if (out.numel() == 0) {
            return out;
        }
        // The residual's strides per image, channel and position: NCHW like out, or [N or 1, O, 1, 1].
        Tensor rc = null;
        long[] rs = {0, 0, 0};
        if (residual != null) {
            if (residual.dim(2) == 1 && residual.dim(3) == 1) {
                rc = contiguous(residual);
                rs = new long[] {residual.dim(0) == 1 ? 0 : o, 1, 0};
            } else {
                rc = residualFor(residual, out, "conv2d");
                rs = new long[] {(long) o * oh * ow, (long) oh * ow, 1};
            }
        }
        long p = (long) n * oh * ow;
        int tile = tileFor((long) ceilDiv(o, 128) * ceilDivL(p, 128));
        String size = kh == 1 && kw == 1 ? "_k1" : kh == 3 && kw == 3 ? "_k3" : "_kn";
        String module = tensorCores() ? "conv2d_mma" : "conv2d";
        String symbol = tensorCores() ? "conv2d_mma_" + tile + size + "_" + dtypeLabel(precision.operandType()) : "conv2d_" + tile + size + "_f32";
        launch3(module, symbol, Math.toIntExact(ceilDivL(p, tile)), ceilDiv(o, tile), 1, THREADS, 0,
                xc, wc, bc, out, n, c, h, wd, o, kh, kw, stride, padTop, padLeft, oh, ow, rc, rs[0], rs[1], rs[2]);
        releaseDerived(xc, x);
        releaseDerived(bc, bias);
        releaseDerived(rc, residual);
        return out;
    }

    // ---------------------------------------------------------------- normalization and attention

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        if (x.rank() < 2 || groups < 1 || x.dim(1) % groups != 0) {
            throw new IllegalArgumentException("groupNorm: " + groups + " groups do not divide the channels of " + Arrays.toString(x.shape()) + " [N, C, *]");
        }
        int c = x.dim(1);
        checkVector("groupNorm gamma", gamma, c);
        checkVector("groupNorm beta", beta, c);
        Tensor xc = contiguous(x);
        Tensor g = gamma == null ? null : contiguous(gamma), b = beta == null ? null : contiguous(beta);
        Tensor out = empty(x.shape());
        int n = x.dim(0);
        long s = x.numel() / Math.max(1, (long) n * c);
        if (out.numel() == 0) {
            return out;
        }
        // Chunks of at least 16K elements, about four blocks per multiprocessor in all.
        int groupsTotal = n * groups;
        long len = (long) (c / groups) * s;
        int splits = (int) Math.max(1, Math.min(ceilDivL(len, 16384), Math.max(1, 4L * cx.multiprocessors / groupsTotal)));
        long chunk = ceilDivL(len, splits);
        Tensor partial = empty(groupsTotal, splits, 3);
        Tensor stats = empty(groupsTotal, 2);
        launch3("norm", "group_norm_partial_f32", groupsTotal, splits, 1, THREADS, 0, xc, partial, c, s, groups, chunk);
        launch("norm", "group_norm_combine_f32", ceilDiv(groupsTotal, 128), 1, 128, 0, partial, stats, groupsTotal, splits, eps);
        launch("norm", "group_norm_apply_f32", gridFor(out.numel()), 1, THREADS, 0, xc, stats, g, b, out, out.numel(), c, s, groups,
                silu ? 1 : 0);
        release(partial);
        release(stats);
        releaseDerived(xc, x);
        return out;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        int d = x.dim(-1);
        checkVector("layerNorm gamma", gamma, d);
        checkVector("layerNorm beta", beta, d);
        Tensor xc = contiguous(x);
        Tensor g = gamma == null ? null : contiguous(gamma), b = beta == null ? null : contiguous(beta);
        Tensor out = empty(x.shape());
        int rows = Math.toIntExact(x.numel() / Math.max(1, d));
        if (rows > 0 && d > 0) {
            launch("norm", "layer_norm_f32", rows, 1, THREADS, 0, xc, g, b, out, d, eps);
        }
        releaseDerived(xc, x);
        return out;
    }

    @Override
    public Tensor softmax(Tensor x) {
        int d = x.dim(-1);
        Tensor xc = contiguous(x);
        Tensor out = empty(x.shape());
        int rows = Math.toIntExact(x.numel() / Math.max(1, d));
        if (rows > 0 && d > 0) {
            launch("norm", "softmax_f32", rows, 1, THREADS, 0, xc, out, d);
        }
        releaseDerived(xc, x);
        return out;
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        if (q.rank() != 3 || k.rank() != 3 || v.rank() != 3) {
            throw new IllegalArgumentException("attention expects q [B, Lq, H*D], k and v [B, Lk, H*D]; got "
                    + Arrays.toString(q.shape()) + ", " + Arrays.toString(k.shape()) + ", " + Arrays.toString(v.shape()));
        }
        int b = q.dim(0), lq = q.dim(1), hd = q.dim(2), lk = k.dim(1);
        if (heads < 1 || hd % heads != 0 || k.dim(0) != b || v.dim(0) != b || k.dim(2) != hd || v.dim(2) != hd || v.dim(1) != lk) {
            throw new IllegalArgumentException("attention shapes do not agree for " + heads + " heads: q " + Arrays.toString(q.shape())
                    + ", k " + Arrays.toString(k.shape()) + ", v " + Arrays.toString(v.shape()));
        }
        int d = hd / heads;
        Tensor qv = rowView(q), kv = rowView(k), vv = rowView(v);
        Tensor out = empty(b, lq, hd);
        if (out.numel() == 0) {
            return out;
        }
        if (d > 256) {
            attentionByQueryChunks(qv, kv, vv, heads, d, scale, causal, out);
        } else if (!(tensorCores() && attentionOnTensorCores(qv, kv, vv, heads, d, scale, causal, out))) {
            String fn = d <= 64 ? "attention_d64_f32" : d <= 128 ? "attention_d128_f32" : "attention_d256_f32";
            int smem = (64 * (d + 1) + 2 * 32 * (d + 1) + 64 * 33) * 4;
            cx.ensureSharedMemory("attention", fn, smem);
            long[] qs = qv.strides(), ks = kv.strides(), vs = vv.strides();
            launch3("attention", fn, ceilDiv(lq, 64), b * heads, 1, THREADS, smem, qv, kv, vv, out, lq, lk, heads, d,
                    qs[1], qs[0], ks[1], ks[0], vs[1], vs[0], scale, causal ? 1 : 0);
        }
        releaseDerived(qv, q);
        releaseDerived(kv, k);
        releaseDerived(vv, v);
        return out;
    }

    /**
     * The FP16/BF16 modes' attention (attention_mma.cu) for the head dims it is built for (SD's 40, 80,
     * 160 and 64): q, k and v are packed into dense 16-bit [B*H, L, D] copies (one pass each), then one
     * fused tensor-core kernel writes out. False (nothing launched) for other head dims, or where the
     * device's shared memory per block is too small; the fp32 kernel then runs instead.
     */
    private boolean attentionOnTensorCores(Tensor q, Tensor k, Tensor v, int heads, int d, float scale, boolean causal, Tensor out) {
        if (d != 40 && d != 64 && d != 80 && d != 160) {
            return false;
        }
        int warps = d == 160 ? 4 : 8, bq = 16 * warps;
        int rowLength = (d / 8) % 2 == 1 ? d : d + 8;
        int smem = (bq + 4 * 64) * rowLength * 2;
        if (smem > cx.maxSharedOptin) {
            return false;
        }
        String type = dtypeLabel(precision.operandType());
        String fn = "attention_mma_d" + d + "_" + type;
        cx.ensureSharedMemory("attention_mma", fn, smem);
        int b = q.dim(0), lq = q.dim(1), lk = k.dim(1);
        CudaStorage pq = packForAttention(q, heads, d, type), pk = packForAttention(k, heads, d, type), pv = packForAttention(v, heads, d, type);
        launch3("attention_mma", fn, ceilDiv(lq, bq), b * heads, 1, 32 * warps, smem, rawTensor(pq), rawTensor(pk), rawTensor(pv), out,
                lq, lk, heads, (float) (scale / Math.log(2.0)), causal ? 1 : 0);
        pq.release();
        pk.release();
        pv.release();
        return true;
    }

    /** A token-major F32 view [B, L, H*D] (unit column stride) as a dense 16-bit [B*H, L, D] copy. */
    private CudaStorage packForAttention(Tensor t, int heads, int d, String type) {
        long total = (long) t.dim(0) * t.dim(1) * t.dim(2);
        CudaStorage packed = new CudaStorage(cx.allocator, precision.operandType(), total);
        if (total > 0) {
            long[] st = t.strides();
            launch("attention_mma", "attention_pack_" + type, gridFor(total / 4), 1, THREADS, 0, t, rawTensor(packed), t.dim(1), heads, d,
                    st[1], st[0], total);
        }
        return packed;
    }

    /**
     * Head dims above 256 (the VAE's single-head attention over 512 channels) do not fit the fused
     * kernel's registers; there each head is done in chunks of at most ATTENTION_CHUNK queries:
     * s = softmax(scale q_chunk k^T) [B, chunk, Lk], o = s v, so only a [chunk, Lk] slice of the
     * scores exists at a time.
     */
    private Tensor attentionByQueryChunks(Tensor q, Tensor k, Tensor v, int heads, int d, float scale, boolean causal, Tensor out) {
        if (causal) {
            throw new IllegalArgumentException("causal attention with head dim " + d + " > 256 is not supported on CUDA");
        }
        int lq = q.dim(1);
        for (int h = 0; h < heads; h++) {
            Tensor kt = k.slice(2, h * d, (h + 1) * d).transpose(1, 2);      // [B, D, Lk]
            Tensor vh = v.slice(2, h * d, (h + 1) * d);                      // [B, Lk, D]
            for (int r0 = 0; r0 < lq; r0 += ATTENTION_CHUNK) {
                int r1 = Math.min(lq, r0 + ATTENTION_CHUNK);
                Tensor qh = q.slice(2, h * d, (h + 1) * d).slice(1, r0, r1);  // [B, rows, D]
                Tensor s = matmul(qh, kt);                                    // [B, rows, Lk]
                Tensor ss = scale(s, scale);
                release(s);
                Tensor p = softmax(ss);                                       // [B, rows, Lk]
                release(ss);
                Tensor o = matmul(p, vh);                                     // [B, rows, D]
                release(p);
                copyStrided(o, out.slice(2, h * d, (h + 1) * d).slice(1, r0, r1));
                release(o);
            }
        }
        return out;
    }

    /** An F32 view whose last dimension is unit-stride (copying only when it is not). */
    private Tensor rowView(Tensor t) {
        Tensor f = f32(t);
        return f.strides()[2] == 1 || f.dim(2) == 1 ? f : contiguous(f);
    }

    // ---------------------------------------------------------------- pointwise

    @Override
    public Tensor activation(Tensor x, Activation act) {
        return unary(x, 0, actCode(act), 0, 0, 0);
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        return unary(x, 1, 0, s, 0, 0);
    }

    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        return unary(x, 2, 0, 0, lo, hi);
    }

    private Tensor unary(Tensor x, int op, int act, float s, float lo, float hi) {
        Tensor xc = contiguous(x);
        Tensor out = empty(x.shape());
        long n = out.numel();
        if (n > 0) {
            launch("elementwise", "unary_f32", gridFor(n), 1, THREADS, 0, n, xc, out, op, act, s, lo, hi);
        }
        releaseDerived(xc, x);
        return out;
    }

    @Override
    public Tensor geglu(Tensor x) {
        int two = x.dim(-1);
        if (two % 2 != 0) {
            throw new IllegalArgumentException("geglu: last dimension of " + Arrays.toString(x.shape()) + " must be even");
        }
        Tensor xc = contiguous(x);
        int[] shape = x.shape();
        shape[shape.length - 1] = two / 2;
        Tensor out = empty(shape);
        long rows = x.numel() / Math.max(1, two);
        if (out.numel() > 0) {
            launch("elementwise", "geglu_f32", gridFor(out.numel()), 1, THREADS, 0, rows, two / 2, xc, out);
        }
        releaseDerived(xc, x);
        return out;
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return binary(a, b, 0, "add");
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return binary(a, b, 1, "sub");
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return binary(a, b, 2, "mul");
    }

    private Tensor binary(Tensor a, Tensor b, int op, String name) {
        int[] shape = broadcastShape(a.shape(), b.shape(), name, a, b);
        if (shape.length > MAX_RANK) {
            throw new IllegalArgumentException(name + " supports rank <= " + MAX_RANK + ", got " + shape.length);
        }
        Tensor af = f32(a), bf = f32(b);
        Tensor out = empty(shape);
        long n = out.numel();
        if (n == 0) {
            return out;
        }
        if (Arrays.equals(a.shape(), shape) && Arrays.equals(b.shape(), shape) && af.isContiguous() && bf.isContiguous()) {
            launch("elementwise", "binary_dense_f32", gridFor(n), 1, THREADS, 0, n, af, bf, out, op);
        } else {
            Tensor ab = af.broadcastTo(shape), bb = bf.broadcastTo(shape);
            StridedLayout l = StridedLayout.coalesce(shape, ab.strides(), bb.strides(), out.strides());
            launch("elementwise", "binary_f32", gridFor(n), 1, THREADS, 0, n, l.rank(), dims(l.shape()), dims(l.strides()[0]),
                    dims(l.strides()[1]), ab, bb, out, op, l.narrow() ? 1 : 0);
        }
        return out;
    }

    // ---------------------------------------------------------------- shape ops

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        if (x.rank() != 4) {
            throw new IllegalArgumentException("upsampleNearest2x expects [N, C, H, W], got " + Arrays.toString(x.shape()));
        }
        Tensor xc = contiguous(x);
        int h = x.dim(2), w = x.dim(3);
        Tensor out = empty(x.dim(0), x.dim(1), 2 * h, 2 * w);
        if (out.numel() > 0) {
            launch("elementwise", "upsample_nearest2x_f32", gridFor(out.numel()), 1, THREADS, 0, (long) x.dim(0) * x.dim(1), h, w, xc, out);
        }
        releaseDerived(xc, x);
        return out;
    }

    /**
     * Nearest resize to outH x outW (PyTorch's index rule; the U-Net's upsamplers at odd latent sizes): exact
     * 2x takes upsample_nearest2x, any other size upsample_nearest_f32 with the scales rounded to float here,
     * as PyTorch computes them.
     */
    @Override
    public Tensor upsampleNearest(Tensor x, int outH, int outW) {
        if (x.rank() != 4 || outH < 1 || outW < 1 || x.dim(2) < 1 || x.dim(3) < 1) {
            throw new IllegalArgumentException("upsampleNearest expects [N, C, H, W] with H, W >= 1 and a positive output size, got "
                    + Arrays.toString(x.shape()) + " to " + outH + "x" + outW);
        }
        int h = x.dim(2), w = x.dim(3);
        if (outH == 2 * h && outW == 2 * w) {
            return upsampleNearest2x(x);
        }
        Tensor xc = contiguous(x);
        Tensor out = empty(x.dim(0), x.dim(1), outH, outW);
        if (out.numel() > 0) {
            launch("elementwise", "upsample_nearest_f32", gridFor(out.numel()), 1, THREADS, 0, (long) x.dim(0) * x.dim(1), h, w,
                    outH, outW, (float) h / (float) outH, (float) w / (float) outW, xc, out);
        }
        releaseDerived(xc, x);
        return out;
    }

    @Override
    public Tensor concat(int dim, Tensor... parts) {
        if (parts.length == 0) {
            throw new IllegalArgumentException("concat of no tensors");
        }
        int rank = parts[0].rank();
        int axis = dim < 0 ? dim + rank : dim;
        if (axis < 0 || axis >= rank) {
            throw new IllegalArgumentException("concat dim " + dim + " out of range for rank " + rank);
        }
        int[] shape = parts[0].shape();
        int total = 0;
        for (Tensor p : parts) {
            int[] s = p.shape();
            boolean ok = s.length == rank;
            for (int i = 0; ok && i < rank; i++) {
                ok = i == axis || s[i] == shape[i];
            }
            if (!ok) {
                throw new IllegalArgumentException("concat along " + axis + ": shape " + Arrays.toString(s) + " does not match " + Arrays.toString(shape));
            }
            total += s[axis];
        }
        shape[axis] = total;
        Tensor out = empty(shape);
        int at = 0;
        for (Tensor p : parts) {
            int len = p.dim(axis);
            if (p.numel() > 0) {
                Tensor src = toDevice(p);
                if (src.dtype() != DType.F32 && src.dtype() != DType.F16 && src.dtype() != DType.BF16) {
                    src = f32(src);
                }
                copyStrided(src, out.slice(axis, at, at + len));
            }
            at += len;
        }
        return out;
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift) {
        if (dim < 1) {
            throw new IllegalArgumentException("timestep embedding dim must be positive, got " + dim);
        }
        Tensor t = toDevice(Tensor.of(timesteps.clone(), timesteps.length));
        Tensor out = empty(timesteps.length, dim);
        if (out.numel() > 0) {
            launch("elementwise", "timestep_embedding_f32", gridFor(out.numel()), 1, THREADS, 0, timesteps.length, dim, t, out,
                    flipSinToCos ? 1 : 0, downscaleFreqShift);
        }
        return out;
    }

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        if (table.rank() != 2) {
            throw new IllegalArgumentException("embedding table must be [V, D], got " + Arrays.toString(table.shape()));
        }
        int v = table.dim(0), d = table.dim(1);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= v) {
                throw new IllegalArgumentException("embedding id " + ids[i] + " at position " + i + " is outside the table of " + v + " rows");
            }
        }
        Tensor t = toDevice(table);
        if (!t.isContiguous()) {
            t = contiguous(t);
        }
        String fn = switch (t.dtype()) {
            case F32 -> "embedding_f32";
            case F16 -> "embedding_f16";
            case BF16 -> "embedding_bf16";
            default -> throw new IllegalArgumentException("embedding table dtype " + t.dtype() + " is not supported");
        };
        Tensor out = empty(ids.length, d);
        if (out.numel() > 0) {
            Tensor idTensor = rawTensor(uploadInts(ids));
            launch("elementwise", fn, gridFor(out.numel()), 1, THREADS, 0, ids.length, d, idTensor, t, out);
        }
        return out;
    }

    @Override
    public Tensor sum(Tensor x, int dim) {
        return reduce(x, dim, false);
    }

    @Override
    public Tensor mean(Tensor x, int dim) {
        return reduce(x, dim, true);
    }

    private Tensor reduce(Tensor x, int dim, boolean mean) {
        int axis = dim < 0 ? dim + x.rank() : dim;
        if (axis < 0 || axis >= x.rank()) {
            throw new IllegalArgumentException("reduction dim " + dim + " out of range for " + Arrays.toString(x.shape()));
        }
        int[] s = x.shape();
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) {
            outer *= s[i];
        }
        for (int i = axis + 1; i < s.length; i++) {
            inner *= s[i];
        }
        long len = s[axis];
        Tensor xc = contiguous(x);
        s[axis] = 1;
        Tensor out = empty(s);
        if (out.numel() > 0) {
            float mul = mean ? 1.0f / len : 1.0f;
            launch("elementwise", "reduce_sum_f32", gridFor(out.numel()), 1, THREADS, 0, outer, len, inner, xc, out, mul);
        }
        releaseDerived(xc, x);
        return out;
    }

    // ---------------------------------------------------------------- launching

    private void launch(String module, String symbol, int gridX, int gridY, int block, int smem, Object... args) {
        launch3(module, symbol, gridX, gridY, 1, block, smem, args);
    }

    /**
     * Enqueues a kernel. Arguments map to kernel parameters by type: Tensor (device address of its first
     * element), null (a null pointer), Integer (int), Long (long long), Float (float), long[] (Dims).
     */
    private void launch3(String module, String symbol, int gridX, int gridY, int gridZ, int block, int smem, Object... args) {
        cx.bind();
        Pointer[] params = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            params[i] = switch (a) {
                case null -> Pointer.to(new CUdeviceptr());
                case Tensor t -> Pointer.to(ptr(t));
                case Integer v -> Pointer.to(new int[] {v});
                case Long v -> Pointer.to(new long[] {v});
                case Float v -> Pointer.to(new float[] {v});
                case long[] v -> Pointer.to(v);
                default -> throw new IllegalArgumentException("unsupported kernel argument " + a.getClass());
            };
        }
        cuLaunchKernel(cx.function(module, symbol), gridX, gridY, gridZ, block, 1, 1, smem, cx.stream, Pointer.to(params), null);
        Reference.reachabilityFence(args);
    }

    private static CUdeviceptr ptr(Tensor t) {
        if (!(t.storage() instanceof CudaStorage s)) {
            throw new IllegalStateException("tensor " + t + " is not on the CUDA device");
        }
        return s.pointer(t.offset());
    }

    private int gridFor(long n) {
        return (int) Math.max(1, Math.min(ceilDivL(n, THREADS), (long) cx.multiprocessors * 32));
    }

    private static long[] dims(int[] v) {
        long[] d = new long[MAX_RANK];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    private static long[] dims(long[] v) {
        return Arrays.copyOf(v, MAX_RANK);
    }

    private static void checkRank(Tensor t) {
        if (t.rank() > MAX_RANK) {
            throw new IllegalArgumentException("tensors of rank " + t.rank() + " are not supported on CUDA (at most " + MAX_RANK + ")");
        }
    }

    private static void checkVector(String what, Tensor t, int size) {
        if (t != null && (t.rank() != 1 || t.dim(0) != size)) {
            throw new IllegalArgumentException(what + " " + Arrays.toString(t.shape()) + " should be [" + size + "]");
        }
    }

    private static int actCode(Activation act) {
        return switch (act == null ? Activation.NONE : act) {
            case NONE -> 0;
            case SILU -> 1;
            case GELU -> 2;
            case GELU_TANH -> 3;
            case QUICK_GELU -> 4;
        };
    }

    private static int[] broadcastShape(int[] a, int[] b, String op, Tensor ta, Tensor tb) {
        int r = Math.max(a.length, b.length);
        int[] out = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i - (r - a.length) >= 0 ? a[i - (r - a.length)] : 1;
            int db = i - (r - b.length) >= 0 ? b[i - (r - b.length)] : 1;
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException(op + ": shapes " + Arrays.toString(ta.shape()) + " and " + Arrays.toString(tb.shape()) + " do not broadcast");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    private static int[] concat(int[] a, int... b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    private static long ceilDivL(long a, long b) {
        return (a + b - 1) / b;
    }
}
