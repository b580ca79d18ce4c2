// The process-wide CUDA state behind every CudaBackend: device 0's primary context, one stream, the
// kernel modules (loaded once, on first use; the bundled PTX, or PTX compiled at run time by NVRTC under a
// driver too old for it), the caching allocator and a pinned staging buffer for host<->device copies.
// probe() finds out, once, whether all of that can work here and why not.
package dev.ldm4j.kernels;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import dev.ldm4j.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

final class CudaContext {
    private static final Object LOCK = new Object();
    private static boolean probed;
    private static String unavailable;
    private static CudaContext instance;

    /** Bytes of pinned host memory used to stage each chunk of a copy. */
    static final int STAGING_BYTES = 32 << 20;

    final CUdevice device;
    final CUcontext context;
    final CUstream stream;
    final DeviceAllocator allocator;
    final String deviceName;
    final int multiprocessors;
    final int computeCapability;
    final int driverVersion;
    final int maxSharedOptin;
    final PtxSource ptxSource;
    final ByteBuffer staging;
    final Pointer stagingPointer;
    private final Map<String, CUmodule> modules = new HashMap<>();
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final Map<String, Integer> sharedLimits = new HashMap<>();
    private final ThreadLocal<Boolean> bound = ThreadLocal.withInitial(() -> false);

    private CudaContext(int driverVersion, PtxSource ptxSource) {
        this.driverVersion = driverVersion;
        this.ptxSource = ptxSource;
        device = new CUdevice();
        cuDeviceGet(device, 0);
        byte[] name = new byte[256];
        cuDeviceGetName(name, name.length, device);
        int len = 0;
        while (len < name.length && name[len] != 0) {
            len++;
        }
        deviceName = new String(name, 0, len, StandardCharsets.US_ASCII);
        multiprocessors = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        computeCapability = 10 * attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
                + attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        maxSharedOptin = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        context = new CUcontext();
        cuDevicePrimaryCtxRetain(context, device);
        cuCtxSetCurrent(context);
        bound.set(true);
        stream = new CUstream();
        cuStreamCreate(stream, 0);
        long[] freeBytes = new long[1], total = new long[1];
        cuMemGetInfo(freeBytes, total);
        allocator = new DeviceAllocator((long) (freeBytes[0] * 0.9), DeviceAllocator.CUDA);
        stagingPointer = new Pointer();
        cuMemAllocHost(stagingPointer, STAGING_BYTES);
        staging = stagingPointer.getByteBuffer(0, STAGING_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    }

    private CudaStorage uploadScratch;

    /**
     * One device block the size of the staging buffer, kept for the context's life: weights narrowed on
     * upload (CudaBackend.toDeviceWeight) pass through it chunk by chunk. Uses are stream-ordered.
     */
    synchronized CudaStorage uploadScratch() {
        if (uploadScratch == null) {
            uploadScratch = new CudaStorage(allocator, DType.F32, STAGING_BYTES / 4);
        }
        return uploadScratch;
    }

    private int attribute(int attr) {
        int[] v = new int[1];
        cuDeviceGetAttribute(v, attr, device);
        return v[0];
    }

    /** Empty when CUDA works here; otherwise one line saying what is missing. */
    static Optional<String> unavailableReason() {
        synchronized (LOCK) {
            if (!probed) {
                unavailable = probe();
                probed = true;
            }
            return Optional.ofNullable(unavailable);
        }
    }

    /** The shared context; call only when unavailableReason() is empty. */
    static CudaContext get() {
        Optional<String> why = unavailableReason();
        if (why.isPresent()) {
            throw new IllegalStateException("CUDA is not available: " + why.get());
        }
        return instance;
    }

    private static String probe() {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup("libcuda.so.1", arena);
        } catch (IllegalArgumentException | IllegalCallerException e) {
            return "no NVIDIA driver: libcuda.so.1 was not found on the library path";
        }
        int[] version = new int[1];
        try {
            JCudaDriver.setExceptionsEnabled(true);
            cuDriverGetVersion(version);
        } catch (LinkageError | CudaException e) {
            return "the JCuda driver-API natives failed to load: " + firstLine(e.getMessage());
        }
        try {
            cuInit(0);
        } catch (CudaException e) {
            return "cuInit failed with " + firstLine(e.getMessage()) + " (no usable NVIDIA GPU, or the driver is not running)";
        }
        int[] count = new int[1];
        cuDeviceGetCount(count);
        if (count[0] == 0) {
            return "no CUDA device found";
        }
        int need = Ptx.requiredDriverVersion(Ptx.isaVersion(Ptx.source("convert")));
        PtxSource.Choice choice = PtxSource.choose(version[0], need, Nvrtc::status);
        if (choice.source() == null) {
            return choice.unavailable();
        }
        try {
            CudaContext c = new CudaContext(version[0], choice.source());
            if (c.computeCapability < 80) {
                return "GPU " + c.deviceName + " has compute capability " + c.computeCapability / 10 + "." + c.computeCapability % 10
                        + "; the kernels are built for 8.0 (Ampere) or newer";
            }
            c.function("convert", "convert_f16_f32");
            instance = c;
            return null;
        } catch (IllegalStateException e) {
            return firstLine(e.getMessage());
        } catch (CudaException e) {
            return "CUDA initialisation failed: " + firstLine(e.getMessage());
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "(no message)";
        }
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }

    /** Makes this context current on the calling thread (once per thread). */
    void bind() {
        if (!bound.get()) {
            cuCtxSetCurrent(context);
            bound.set(true);
        }
    }

    /** A kernel by module and symbol; the module's PTX is JIT-compiled by the driver on first use. */
    synchronized CUfunction function(String module, String symbol) {
        String key = module + "/" + symbol;
        CUfunction f = functions.get(key);
        if (f == null) {
            CUmodule m = modules.get(module);
            if (m == null) {
                m = new CUmodule();
                try {
                    cuModuleLoadData(m, ptxSource == PtxSource.NVRTC ? Nvrtc.ptx(module, computeCapability) : Ptx.source(module));
                } catch (CudaException e) {
                    String from = ptxSource == PtxSource.NVRTC ? " (compiled at run time by NVRTC)" : "";
                    throw new IllegalStateException("cannot load kernel module " + module + ".ptx" + from + " on " + deviceName + ": "
                            + firstLine(e.getMessage()));
                }
                modules.put(module, m);
            }
            f = new CUfunction();
            cuModuleGetFunction(f, m, symbol);
            functions.put(key, f);
        }
        return f;
    }

    /** Raises a kernel's dynamic shared-memory limit to at least bytes (needed above 48 KiB). */
    synchronized void ensureSharedMemory(String module, String symbol, int bytes) {
        String key = module + "/" + symbol;
        if (sharedLimits.getOrDefault(key, 48 << 10) >= bytes) {
            return;
        }
        if (bytes > maxSharedOptin) {
            throw new IllegalArgumentException(symbol + " needs " + bytes + " bytes of shared memory; " + deviceName + " allows " + maxSharedOptin);
        }
        cuFuncSetAttribute(function(module, symbol), CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
        sharedLimits.put(key, bytes);
    }

    void synchronize() {
        cuStreamSynchronize(stream);
    }
}
