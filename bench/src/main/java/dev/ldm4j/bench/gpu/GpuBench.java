// The GPU check's timing part (run by bench/gpu-check.sh on a GPU host with only a Java runtime):
// measures the device's copy bandwidth, times every CUDA kernel at Stable Diffusion 1.5 shapes (512x512,
// batch 2 for classifier-free guidance; CUDA events, warm-up, median of many runs, random inputs) and
// reports achieved TFLOP/s or GB/s against the measured ceilings; builds the full-size SD 1.5 U-Net and
// VAE from seeded random weights and times a U-Net step and a VAE decode; runs the tiny conformance
// U-Net, VAE and seeded text-to-image pipelines on the GPU and the CPU against the diffusers references.
// The matrix products (conv, linear, matmul), the U-Net step, the VAE decode and the tiny checks are also
// run in the backend's FP16 (and some in BF16) tensor-core precision, beside PyTorch's fp16 times for the
// same shapes when gpu-check.sh measured them (--torch-fp16: lines "name<TAB>ms"). Prints one short
// table last.
//
// Usage: GpuBench [--torch-sgemm-tflops=X] [--torch-copy-gbs=Y] [--torch-fp16=FILE] [--conformance=DIR]
package dev.ldm4j.bench.gpu;

import dev.ldm4j.diffusion.pipeline.GenerationRequest;
import dev.ldm4j.diffusion.pipeline.GenerationResult;
import dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline;
import dev.ldm4j.diffusion.pipeline.StepListener;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.Schedulers;
import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.kernels.CudaBackend;
import dev.ldm4j.kernels.CudaPrecision;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.BackendProvider;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Recording;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.WeightSource;
import dev.ldm4j.weights.WeightSources;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.InvocationTargetException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;

public final class GpuBench {
    private record Row(String section, String name, double ms, String rate, String ofCeiling) {
    }

    private final CudaBackend gpu;
    private final CudaBackend gpu16;
    private final CudaBackend gpuBf16;
    private final Map<String, Double> torchFp16 = new HashMap<>();
    private final List<Row> rows = new ArrayList<>();
    private final double sgemmTflops;
    private final double torchCopyGbs;
    private double copyGbs;
    private long seed = 1;

    private GpuBench(CudaBackend gpu, double sgemmTflops, double torchCopyGbs) {
        this.gpu = gpu;
        this.gpu16 = gpu.withPrecision(CudaPrecision.FP16);
        this.gpuBf16 = gpu.withPrecision(CudaPrecision.BF16);
        this.sgemmTflops = sgemmTflops;
        this.torchCopyGbs = torchCopyGbs;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new HashMap<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            if (!a.startsWith("--") || eq < 0) {
                System.err.println("usage: GpuBench [--torch-sgemm-tflops=X] [--torch-copy-gbs=Y] [--torch-fp16=FILE] [--conformance=DIR]; bad argument " + a);
                System.exit(2);
            }
            opt.put(a.substring(2, eq), a.substring(eq + 1));
        }
        BackendProvider cuda = Backends.providers().stream().filter(p -> p.name().equals("cuda")).findFirst().orElse(null);
        if (cuda == null || cuda.unavailableReason().isPresent()) {
            System.out.println("CUDA unavailable: " + (cuda == null ? "no provider" : cuda.unavailableReason().get()));
            System.exit(3);
        }
        CudaBackend gpu = ((CudaBackend) cuda.create()).withPrecision(CudaPrecision.FP32);
        System.out.println("device: " + gpu.describe());
        GpuBench b = new GpuBench(gpu, parse(opt.get("torch-sgemm-tflops")), parse(opt.get("torch-copy-gbs")));
        if (opt.containsKey("torch-fp16") && Files.exists(Path.of(opt.get("torch-fp16")))) {
            for (String line : Files.readAllLines(Path.of(opt.get("torch-fp16")))) {
                int tab = line.lastIndexOf('\t');
                if (tab > 0) {
                    b.torchFp16.put(line.substring(0, tab), parse(line.substring(tab + 1)));
                }
            }
        }
        b.ceilings();
        b.kernels();
        Path conf = opt.containsKey("conformance") ? Path.of(opt.get("conformance")) : null;
        b.fullSizeModels(conf);
        b.tinyConformance(conf);
        b.printTable();
    }

    private static double parse(String s) {
        try {
            return s == null || s.isBlank() ? Double.NaN : Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    // ------------------------------------------------------------ measurement

    private Tensor rand(int... shape) {
        SplittableRandom r = new SplittableRandom(seed++);
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return gpu.toDevice(Tensor.of(v, shape));
    }

    private Tensor randF16(int... shape) {
        SplittableRandom r = new SplittableRandom(seed++);
        long n = Tensor.numel(shape);
        MemorySegment seg = Arena.ofAuto().allocate(n * 2, 2);
        for (long i = 0; i < n; i++) {
            seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16((float) r.nextGaussian()));
        }
        return gpu.toDevice(Tensor.of(new SegmentStorage(seg, DType.F16), shape));
    }

    /** Median GPU milliseconds of op over reps runs, after warm-up runs. */
    private double medianMs(int warm, int reps, Supplier<Tensor> op) {
        for (int i = 0; i < warm; i++) {
            op.get();
        }
        gpu.synchronize();
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            t[i] = gpu.timeMillis(op::get);
        }
        Arrays.sort(t);
        return reps % 2 == 1 ? t[reps / 2] : (t[reps / 2 - 1] + t[reps / 2]) / 2;
    }

    private void flops(String name, double flop, Supplier<Tensor> op) {
        flops(name, null, flop, op);
    }

    /** As flops(name, ...), compared with PyTorch's fp16 time of the same shape when torchKey has one. */
    private void flops(String name, String torchKey, double flop, Supplier<Tensor> op) {
        try {
            double ms = medianMs(3, 21, op);
            double tf = flop / (ms * 1e-3) / 1e12;
            String of = Double.isNaN(sgemmTflops) ? "n/a" : String.format("%.0f%% of sgemm", 100 * tf / sgemmTflops);
            Double t = torchKey == null ? null : torchFp16.get(torchKey);
            if (t != null && !t.isNaN()) {
                of = String.format("torch fp16 %.3f ms (%.2f TFLOP/s); ours %.1fx its time", t, flop / (t * 1e-3) / 1e12, ms / t);
            }
            add("kernel", name, ms, String.format("%.2f TFLOP/s", tf), of);
        } catch (RuntimeException e) {
            add("kernel", name + " FAILED: " + oneLine(e), Double.NaN, "", "");
        }
    }

    private void bytes(String name, double bytes, Supplier<Tensor> op) {
        try {
            double ms = medianMs(3, 21, op);
            double gbs = bytes / (ms * 1e-3) / 1e9;
            add("kernel", name, ms, String.format("%.0f GB/s", gbs), String.format("%.0f%% of copy", 100 * gbs / copyGbs));
        } catch (RuntimeException e) {
            add("kernel", name + " FAILED: " + oneLine(e), Double.NaN, "", "");
        }
    }

    private void add(String section, String name, double ms, String rate, String of) {
        Row r = new Row(section, name, ms, rate, of);
        rows.add(r);
        System.out.printf("%-10s %-58s %10.4f ms  %-16s %s%n", section, name, ms, rate, of);
        System.out.flush();
    }

    private static String oneLine(Throwable e) {
        Throwable c = e instanceof InvocationTargetException ite && ite.getCause() != null ? ite.getCause() : e;
        String m = c.getClass().getSimpleName() + ": " + c.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    // ------------------------------------------------------------ sections

    private void ceilings() {
        long bytes = 1L << 30;
        Tensor src = gpu.empty((int) (bytes / 4)), dst = gpu.empty((int) (bytes / 4));
        double ms = medianMs(2, 11, () -> {
            gpu.copyBytes(dst, src, bytes);
            return dst;
        });
        copyGbs = 2.0 * bytes / (ms * 1e-3) / 1e9;
        add("ceiling", "device copy 1 GiB (cuMemcpyDtoD; read + write)", ms, String.format("%.0f GB/s", copyGbs), "");
        if (!Double.isNaN(torchCopyGbs)) {
            add("ceiling", "PyTorch device copy (read + write)", Double.NaN, String.format("%.0f GB/s", torchCopyGbs), "");
        }
        if (!Double.isNaN(sgemmTflops)) {
            add("ceiling", "PyTorch fp32 GEMM 8192^3, TF32 off (cuBLAS)", Double.NaN, String.format("%.2f TFLOP/s", sgemmTflops), "");
        }
    }

    private void kernels() {
        // Convolutions (U-Net: batch 2 at latent 64x64; VAE decoder: batch 1 up to 512x512).
        conv("conv3x3 4->320 @64 (conv_in)", 2, 4, 64, 64, 320, 3, 1, 1);
        conv("conv3x3 320->320 @64", 2, 320, 64, 64, 320, 3, 1, 1);
        conv("conv3x3 640->640 @32", 2, 640, 32, 32, 640, 3, 1, 1);
        conv("conv3x3 1280->1280 @16", 2, 1280, 16, 16, 1280, 3, 1, 1);
        conv("conv3x3 1280->1280 @8", 2, 1280, 8, 8, 1280, 3, 1, 1);
        conv("conv3x3 s2 320 @64->32 (downsample)", 2, 320, 64, 64, 320, 3, 2, 1);
        conv("conv1x1 640->320 @64 (skip)", 2, 640, 64, 64, 320, 1, 1, 0);
        conv("VAE conv3x3 512->512 @64", 1, 512, 64, 64, 512, 3, 1, 1);
        conv("VAE conv3x3 256->256 @256", 1, 256, 256, 256, 256, 3, 1, 1);
        conv("VAE conv3x3 128->128 @512", 1, 128, 512, 512, 128, 3, 1, 1);

        // Linear layers of the 64x64 transformer blocks (tokens = 2 x 4096).
        linear("linear 320->320 [8192 tok] (q/k/v/out)", 8192, 320, 320, false);
        linear("linear 320->2560 [8192 tok] (GEGLU proj)", 8192, 320, 2560, false);
        Tensor gx = rand(8192, 320), gw = randF16(2560, 320), gb = rand(2560);
        flops("linear 320->2560 + GEGLU [8192 tok] fp16 (gate in the epilogue)", "linear 320->2560 + GEGLU [8192 tok]", 2.0 * 8192 * 320 * 2560,
                () -> gpu16.linearGeglu(gx, gw, gb));
        Tensor rx = rand(8192, 1280), rw = randF16(320, 1280), rb = rand(320), rr = rand(8192, 320);
        flops("linear 1280->320 + residual [8192 tok] fp16 (add in the epilogue)", "linear 1280->320 + residual [8192 tok]", 2.0 * 8192 * 1280 * 320,
                () -> gpu16.linearAdd(rx, rw, rb, rr));
        linear("linear 1280->320 [8192 tok] (ff out)", 8192, 1280, 320, false);
        linear("linear 1280->1280 [2048 tok] F16 weight (32x32 ff)", 2048, 1280, 1280, true);
        linear("linear 768->320 [154 tok] (cross k/v)", 154, 768, 320, false);
        Tensor a = rand(4096, 4096), bm = rand(4096, 4096);
        flops("matmul 4096^3", 2.0 * 4096 * 4096 * 4096, () -> gpu.matmul(a, bm));
        flops("matmul 4096^3 fp16", "matmul 4096^3", 2.0 * 4096 * 4096 * 4096, () -> gpu16.matmul(a, bm));
        flops("matmul 4096^3 bf16", 2.0 * 4096 * 4096 * 4096, () -> gpuBf16.matmul(a, bm));

        // Attention (B=2; heads 8; FLOPs 4 B H Lq Lk D).
        attention("self-attn 64x64: L 4096, D 40", 2, 4096, 4096, 8, 40);
        attention("self-attn 32x32: L 1024, D 80", 2, 1024, 1024, 8, 80);
        attention("self-attn 16x16: L 256, D 160", 2, 256, 256, 8, 160);
        attention("cross-attn 64x64: Lk 77, D 40", 2, 4096, 77, 8, 40);
        attention("VAE mid attn: L 4096, 1 head, D 512 (chunked)", 1, 4096, 4096, 1, 512);
        attention("CLIP causal: L 77, 12 heads, D 64", 2, 77, 77, 12, 64);

        // Memory-bound ops: bytes = inputs read once + output written once.
        Tensor x = rand(2, 320, 64, 64), y = rand(2, 320, 64, 64), g = rand(320), be = rand(320);
        double act = 2 * 320 * 64 * 64 * 4.0;
        bytes("groupNorm+SiLU [2,320,64,64] 32 groups", 2 * act, () -> gpu.groupNorm(x, 32, g, be, 1e-5f, true));
        Tensor vx = rand(1, 128, 512, 512), vg = rand(128), vb = rand(128);
        bytes("groupNorm [1,128,512,512] 32 groups (VAE)", 2 * 128 * 512 * 512 * 4.0, () -> gpu.groupNorm(vx, 32, vg, vb, 1e-6f, false));
        Tensor t = rand(2, 4096, 320), lg = rand(320), lb = rand(320);
        bytes("layerNorm [2,4096,320]", 2 * act, () -> gpu.layerNorm(t, lg, lb, 1e-5f));
        Tensor sm = rand(16, 4096, 77);
        bytes("softmax [16,4096,77]", 2 * 16 * 4096 * 77 * 4.0, () -> gpu.softmax(sm));
        Tensor gg = rand(2, 4096, 2560);
        bytes("GEGLU [2,4096,2560]", 1.5 * 2 * 4096 * 2560 * 4.0, () -> gpu.geglu(gg));
        bytes("SiLU [2,320,64,64]", 2 * act, () -> gpu.activation(x, Activation.SILU));
        bytes("add [2,320,64,64]", 3 * act, () -> gpu.add(x, y));
        Tensor bias = rand(2, 320, 1, 1);
        bytes("add broadcast [2,320,64,64]+[2,320,1,1]", 2 * act, () -> gpu.add(x, bias));
        bytes("scale [2,320,64,64]", 2 * act, () -> gpu.scale(x, 0.5f));
        bytes("contiguous of permute(0,2,3,1) [2,320,64,64]", 2 * act, () -> gpu.contiguous(x.permute(0, 2, 3, 1)));
        Tensor up = rand(2, 1280, 16, 16);
        bytes("upsample2x [2,1280,16,16]", 5 * 2 * 1280 * 16 * 16 * 4.0, () -> gpu.upsampleNearest2x(up));
        Tensor upOdd = rand(2, 1280, 9, 13);
        bytes("upsample to size [2,1280,9,13] -> 17x25 (520x776 image)", 2 * 1280 * (9 * 13 + 17 * 25) * 4.0,
                () -> gpu.upsampleNearest(upOdd, 17, 25));
        Tensor c1 = rand(2, 640, 32, 32), c2 = rand(2, 640, 32, 32);
        bytes("concat dim 1 2x[2,640,32,32]", 4 * 2 * 640 * 32 * 32 * 4.0, () -> gpu.concat(1, c1, c2));
        Tensor h = randF16(1280, 1280, 3, 3);
        bytes("F16->F32 [1280,1280,3,3] (contiguous of a fresh view)", 6.0 * 1280 * 1280 * 9,
                () -> gpu.contiguous(h.permute(0, 1, 2, 3).transpose(2, 3)));
        bytes("sum dim 1 [2,320,4096]", act, () -> gpu.sum(x.reshape(2, 320, 4096), 1));
        bytes("timestep embedding [2,320]", 2 * 320 * 4.0, () -> gpu.timestepEmbedding(new float[] {981, 981}, 320, true, 0));
        Tensor table = rand(49408, 768);
        int[] ids = new int[154];
        Arrays.setAll(ids, i -> (i * 7919) % 49408);
        bytes("embedding 154 ids of [49408,768]", 2 * 154 * 768 * 4.0, () -> gpu.embedding(table, ids));
    }

    /** Times the conv in fp32 and fp16 (weights F16 on the device, as from a checkpoint), bf16 too if asked. */
    private void conv(String name, int n, int c, int h, int w, int o, int k, int stride, int pad) {
        Tensor x = rand(n, c, h, w), wt = rand(o, c, k, k), b = rand(o), wh = randF16(o, c, k, k);
        int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
        double flop = 2.0 * n * o * oh * ow * c * k * k;
        flops(name, flop, () -> gpu.conv2d(x, wt, b, stride, pad));
        flops(name + " fp16", name, flop, () -> gpu16.conv2d(x, wh, b, stride, pad));
        if (name.equals("conv3x3 320->320 @64") || name.startsWith("VAE conv3x3 256")) {
            flops(name + " bf16", flop, () -> gpuBf16.conv2d(x, wt, b, stride, pad));
        }
    }

    private void linear(String name, int rows, int k, int n, boolean f16) {
        Tensor x = rand(rows, k), w = f16 ? randF16(n, k) : rand(n, k), b = rand(n), wh = randF16(n, k);
        double flop = 2.0 * rows * k * n;
        flops(name, flop, () -> gpu.linear(x, w, b, Activation.NONE));
        if (!f16) {
            flops(name + " fp16", name, flop, () -> gpu16.linear(x, wh, b, Activation.NONE));
        }
        if (name.contains("320->2560")) {
            flops(name + " bf16", flop, () -> gpuBf16.linear(x, w, b, Activation.NONE));
        }
    }

    private void attention(String name, int b, int lq, int lk, int heads, int d) {
        Tensor q = rand(b, lq, heads * d), k = rand(b, lk, heads * d), v = rand(b, lk, heads * d);
        boolean causal = name.contains("causal");
        double flop = 4.0 * b * heads * lq * lk * d * (causal ? 0.5 : 1);
        flops(name, flop, () -> gpu.attention(q, k, v, heads, (float) (1 / Math.sqrt(d)), causal));
        if (d <= 256) {
            // The tensor-core kernel for head dims 40/64/80/160 (packing of q, k, v included); others fall back to fp32.
            flops(name + " fp16", name, flop, () -> gpu16.attention(q, k, v, heads, (float) (1 / Math.sqrt(d)), causal));
        }
    }

    // ------------------------------------------------------------ full-size models

    @SuppressWarnings("unchecked")
    private void fullSizeModels(Path conformance) {
        Path header = conformance == null ? null : conformance.resolve("sd15-diffusers.header.json");
        if (header == null || !Files.exists(header)) {
            add("model", "SD 1.5 U-Net / VAE: skipped (no sd15-diffusers.header.json)", Double.NaN, "", "");
            return;
        }
        for (CudaBackend b : new CudaBackend[] {gpu, gpu16, gpuBf16}) {
            unetStep(header, b);
        }
        for (CudaBackend b : new CudaBackend[] {gpu, gpu16}) {
            vaeDecode(header, b);
        }
    }

    private static String label(CudaBackend b) {
        return b.precision().label();
    }

    @SuppressWarnings("unchecked")
    private void unetStep(Path header, CudaBackend backend) {
        String p = label(backend);
        try {
            Map<String, Object> h = Json.parseObject(header);
            System.gc();
            backend.trimCache();
            backend.resetPeakMemory();
            long t0 = System.nanoTime();
            ProfilingBackend prof = new ProfilingBackend(backend);
            UNet2DConditionModel unet = new UNet2DConditionModel(
                    Params.root(new RandomWeights((Map<String, Object>) h.get("unet"), "random SD 1.5 U-Net", 7), prof),
                    UNetConfig.fromJson((Map<String, Object>) h.get("unet_config")));
            System.out.printf("U-Net built from random weights in %.1f s; %s%n", (System.nanoTime() - t0) / 1e9, gpu.memoryStats());
            Tensor sample = rand(2, 4, 64, 64), ctx = rand(2, 77, 768);
            float[] ts = {981, 981};
            for (int i = 0; i < 2; i++) {
                unet.forward(sample, ts, ctx);
            }
            gpu.synchronize();
            double[] ms = new double[5];
            double[] wall = new double[5];
            for (int i = 0; i < ms.length; i++) {
                long w0 = System.nanoTime();
                ms[i] = gpu.timeMillis(() -> unet.forward(sample, ts, ctx));
                wall[i] = (System.nanoTime() - w0) / 1e6;
            }
            Arrays.sort(ms);
            Arrays.sort(wall);
            add("model", "SD 1.5 U-Net step, 512x512, batch 2, " + p + " (GPU time)", ms[2], "", "");
            add("model", "SD 1.5 U-Net step, 512x512, batch 2, " + p + " (wall time)", wall[2], "", "");
            add("model", "SD 1.5 U-Net step, 512x512, batch 2, " + p + ": peak device memory held by the allocator (weights + activations + cache)",
                    Double.NaN, String.format("%.2f GB", backend.peakDeviceMemoryBytes() / 1e9), "");
            System.out.println(gpu.memoryStats());
            recordedStep(backend, unet, sample, ts, ctx, ms[2]);
            prof.start();
            unet.forward(sample, ts, ctx);
            Map<String, double[]> byOp = prof.stop();
            double total = byOp.values().stream().mapToDouble(v -> v[0]).sum();
            for (var e : byOp.entrySet()) {
                double[] v = e.getValue();
                if (v[0] >= 0.01 * total) {
                    add("unet-ops", String.format("%s %s (%d calls)", p, e.getKey(), (int) v[1]), v[0], "",
                            String.format("%.0f%% of op time", 100 * v[0] / total));
                }
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            add("model", "SD 1.5 U-Net " + p + " FAILED: " + oneLine(e), Double.NaN, "", "");
        }
    }

    /**
     * The same U-Net call recorded as one CUDA graph (Backend.record, as generate --cuda-graph does):
     * checked against the op-by-op output, then timed per replay beside the op-by-op median.
     */
    private void recordedStep(CudaBackend backend, UNet2DConditionModel unet, Tensor sample, float[] ts, Tensor ctx, double eagerMs) {
        String p = label(backend);
        Tensor x = backend.toDevice(sample), c = backend.toDevice(ctx);
        Tensor tProj = unet.timeProjection(ts, x.dim(0));
        float[] want = backend.toHost(unet.forwardProjected(x, tProj, c)).toFloatArray();
        System.gc();
        backend.trimCache();
        backend.resetPeakMemory();
        try (Recording r = backend.record(in -> unet.forwardProjected(in[0], in[1], c), x, tProj)) {
            float[] got = backend.toHost(r.run(x, tProj)).toFloatArray();
            double diff = maxAbs(got, want);
            for (int i = 0; i < 3; i++) {
                r.run(x, tProj);
            }
            double[] rms = new double[5];
            for (int i = 0; i < rms.length; i++) {
                rms[i] = gpu.timeMillis(() -> r.run(x, tProj));
            }
            Arrays.sort(rms);
            add("model", "SD 1.5 U-Net step, 512x512, batch 2, " + p + ", one CUDA graph replay (max |replay - op by op| " + String.format("%.2g", diff) + ")",
                    rms[2], String.format("peak %.2f GB held", backend.peakDeviceMemoryBytes() / 1e9), String.format("%.2fx the op-by-op time", rms[2] / eagerMs));
        } catch (RuntimeException e) {
            add("model", "SD 1.5 U-Net " + p + " CUDA graph FAILED: " + oneLine(e), Double.NaN, "", "");
        }
    }

    @SuppressWarnings("unchecked")
    private void vaeDecode(Path header, CudaBackend backend) {
        String p = label(backend);
        try {
            Map<String, Object> h = Json.parseObject(header);
            AutoencoderKL vae = new AutoencoderKL(
                    Params.root(new RandomWeights((Map<String, Object>) h.get("vae"), "random SD VAE", 8), backend),
                    VaeConfig.fromJson((Map<String, Object>) h.get("vae_config")));
            Tensor z = rand(1, 4, 64, 64);
            vae.decode(z);
            gpu.synchronize();
            double[] vm = new double[3];
            for (int i = 0; i < vm.length; i++) {
                vm[i] = gpu.timeMillis(() -> vae.decode(z));
            }
            Arrays.sort(vm);
            add("model", "SD VAE decode 64x64 -> 512x512, batch 1, " + p + " (GPU time)", vm[1], "", "");
            System.out.println(gpu.memoryStats());
        } catch (RuntimeException | OutOfMemoryError e) {
            add("model", "SD VAE decode " + p + " FAILED: " + oneLine(e), Double.NaN, "", "");
        }
        gpu.trimCache();
    }

    // ------------------------------------------------------------ tiny conformance

    @SuppressWarnings("unchecked")
    private void tinyConformance(Path conformance) {
        Path dir = conformance == null ? null : conformance.resolve("sd1-tiny");
        if (dir == null || !Files.exists(dir.resolve("golden.safetensors"))) {
            add("conform", "sd1-tiny: skipped (fixtures not carried)", Double.NaN, "", "");
            return;
        }
        Backend cpu = Backends.create("cpu");
        Backend[] bs = {gpu, cpu, gpu16, gpuBf16};
        try (WeightSource golden = WeightSources.open(dir.resolve("golden.safetensors"));
             WeightSource unetW = WeightSources.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"));
             WeightSource vaeW = WeightSources.open(dir.resolve("vae/diffusion_pytorch_model.safetensors"))) {
            UNetConfig uc = UNetConfig.fromJson(Json.parseObject(dir.resolve("unet/config.json")));
            VaeConfig vc = VaeConfig.fromJson(Json.parseObject(dir.resolve("vae/config.json")));
            Tensor sample = dense(golden, "unet.sample"), ctx = dense(golden, "unet.context");
            float[] ts = golden.tensor("unet.timesteps").toFloatArray();
            Tensor[] out = new Tensor[bs.length];
            for (int i = 0; i < bs.length; i++) {
                UNet2DConditionModel unet = new UNet2DConditionModel(Params.root(unetW, bs[i]), uc);
                out[i] = bs[i].toHost(unet.forward(bs[i].toDevice(sample), ts, bs[i].toDevice(ctx)));
            }
            report("sd1-tiny U-Net [2,4,16,16]", out[0], out[1], dense(golden, "unet.out"), 1e-4);
            reportHalf("sd1-tiny U-Net [2,4,16,16]", out[2], out[3], out[1], dense(golden, "unet.out"));
            Tensor z = dense(golden, "vae.z");
            for (int i = 0; i < bs.length; i++) {
                AutoencoderKL vae = new AutoencoderKL(Params.root(vaeW, bs[i]), vc);
                out[i] = bs[i].toHost(vae.decode(bs[i].toDevice(z)));
            }
            report("sd1-tiny VAE decode", out[0], out[1], dense(golden, "vae.decoded"), 1e-4);
            reportHalf("sd1-tiny VAE decode", out[2], out[3], out[1], dense(golden, "vae.decoded"));
        } catch (RuntimeException e) {
            add("conform", "sd1-tiny U-Net/VAE FAILED: " + oneLine(e), Double.NaN, "", "");
        }
        Path seeded = dir.resolve("pipelines_seeded.json");
        if (!Files.exists(seeded)) {
            add("conform", "sd1-tiny pipelines: skipped (pipelines_seeded.* not carried)", Double.NaN, "", "");
            return;
        }
        try (StableDiffusionPipeline pg = StableDiffusionPipeline.load(dir, null, null, gpu);
             StableDiffusionPipeline pc = StableDiffusionPipeline.load(dir, null, null, cpu);
             StableDiffusionPipeline ph = StableDiffusionPipeline.load(dir, null, null, gpu16);
             StableDiffusionPipeline pb = StableDiffusionPipeline.load(dir, null, null, gpuBf16);
             WeightSource ref = WeightSources.open(dir.resolve("pipelines_seeded.safetensors"))) {
            Map<String, Object> runs = Json.parseObject(seeded);
            for (var e : runs.entrySet()) {
                Map<String, Object> run = (Map<String, Object>) e.getValue();
                String sched = (String) run.get("scheduler");
                if (!Schedulers.names().contains(sched)) {
                    add("conform", "pipeline " + e.getKey() + ": skipped (scheduler " + sched + " not available)", Double.NaN, "", "");
                    continue;
                }
                GenerationRequest req = GenerationRequest.textToImage((String) run.get("prompt"))
                        .withNegativePrompt((String) run.get("negative_prompt"))
                        .withSteps(((Number) run.get("steps")).intValue())
                        .withGuidanceScale(((Number) run.get("guidance_scale")).doubleValue())
                        .withSize(((Number) run.get("width")).intValue(), ((Number) run.get("height")).intValue());
                long seedValue = ((Number) run.get("seed")).longValue();
                StableDiffusionPipeline[] ps = {pg, pc, ph, pb};
                GenerationResult[] res = new GenerationResult[ps.length];
                for (int i = 0; i < ps.length; i++) {
                    Map<String, Object> cfg = new LinkedHashMap<>(ps[i].spec().schedulerConfig());
                    if (run.get("scheduler_kwargs") instanceof Map<?, ?> kw) {
                        cfg.putAll((Map<String, Object>) kw);
                    }
                    res[i] = ps[i].generate(req, Schedulers.create(sched, cfg, false),
                            new TorchGenerator(seedValue, TorchGenerator.Precision.FLOAT64), StepListener.NONE);
                }
                float[] want = ref.tensor(e.getKey() + ".image").toFloatArray();
                float[] g = res[0].images().get(0).data(), c = res[1].images().get(0).data();
                double gRef = maxAbs(g, want) * 255, cRef = maxAbs(c, want) * 255, gc = maxAbs(g, c) * 255;
                add("conform", String.format("pipeline %s: %s, max pixel |gpu-ref| %.3f/255 (cpu %.3f), |gpu-cpu| %.3f/255; gpu steps %.0f ms",
                        e.getKey(), gRef <= 2 ? "PASS" : "FAIL", gRef, cRef, gc, res[0].timings().totalStepNanos() / 1e6), Double.NaN, "", "");
                String[] names = {"fp32", "cpu", "fp16", "bf16"};
                for (int i = 2; i < ps.length; i++) {
                    float[] hImg = res[i].images().get(0).data();
                    double max = maxAbs(hImg, c) * 255, mean = meanAbs(hImg, c) * 255;
                    boolean pass = max <= HALF_IMAGE_MAX[i - 2] && mean <= HALF_IMAGE_MEAN[i - 2];
                    add("conform", String.format("pipeline %s %s: %s, max pixel |%s-cpu| %.3f/255 (bound %.0f), mean %.4f/255 (bound %.2f); |%s-ref| %.3f/255; steps %.0f ms",
                            e.getKey(), names[i], pass ? "PASS" : "FAIL", names[i], max, HALF_IMAGE_MAX[i - 2], mean, HALF_IMAGE_MEAN[i - 2], names[i],
                            maxAbs(hImg, want) * 255, res[i].timings().totalStepNanos() / 1e6), Double.NaN, "", "");
                }
            }
        } catch (RuntimeException e) {
            add("conform", "sd1-tiny pipelines FAILED: " + oneLine(e), Double.NaN, "", "");
        }
    }

    /**
     * The stated image tolerance of the tensor-core modes against the CPU fp32 image (same seed, 8-bit
     * steps of 1/255): fp16 {max 3/255, mean 0.25/255}, bf16 {max 12/255, mean 1.5/255}. fp16 keeps 11
     * significant bits and bf16 8, so a denoising run moves each pixel by a fraction of one or a few
     * 8-bit steps; the bounds are about 4x (fp16) and 2.5x (bf16) the errors measured on this model
     * before attention moved to tensor cores (GPU-RESULTS.md run 4: 0.717 and 4.58 max, 0.055 and 0.52 mean).
     * The same bounds are tested without a GPU on a CPU backend with rounded product operands
     * (diffusion's HalfPrecisionToleranceTest; 2026-11-26: 0.545 and 4.61 max, 0.061 and 0.53 mean).
     */
    private static final double[] HALF_IMAGE_MAX = {3, 12}, HALF_IMAGE_MEAN = {0.25, 1.5};

    private static double maxAbs(float[] a, float[] b) {
        if (a.length != b.length) {
            return Double.POSITIVE_INFINITY;
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    private static double meanAbs(float[] a, float[] b) {
        if (a.length != b.length) {
            return Double.POSITIVE_INFINITY;
        }
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += Math.abs(a[i] - b[i]);
        }
        return s / Math.max(1, a.length);
    }

    /** The fp16 and bf16 outputs against the CPU fp32 output and the diffusers fp32 reference (measured, no pass mark). */
    private void reportHalf(String what, Tensor f16, Tensor bf16, Tensor cpuOut, Tensor ref) {
        add("conform", String.format("%s fp16: |fp16-cpu|/|cpu| %.1e, |fp16-ref|/|ref| %.1e; bf16: |bf16-cpu|/|cpu| %.1e", what,
                relErr(f16, cpuOut), relErr(f16, ref), relErr(bf16, cpuOut)), Double.NaN, "", "");
    }

    private static Tensor dense(WeightSource src, String name) {
        Tensor t = src.tensor(name);
        return Tensor.of(t.toFloatArray(), t.shape());
    }

    private void report(String what, Tensor gpuOut, Tensor cpuOut, Tensor ref, double tol) {
        double eRef = relErr(gpuOut, ref), eCpu = relErr(gpuOut, cpuOut), cpuRef = relErr(cpuOut, ref);
        add("conform", String.format("%s: %s, |gpu-ref|/|ref| %.1e (cpu %.1e), |gpu-cpu|/|cpu| %.1e", what, eRef <= tol ? "PASS" : "FAIL",
                eRef, cpuRef, eCpu), Double.NaN, "", "");
    }

    private static double relErr(Tensor a, Tensor b) {
        float[] x = a.toFloatArray(), y = b.toFloatArray();
        if (x.length != y.length) {
            return Double.POSITIVE_INFINITY;
        }
        double num = 0, den = 0;
        for (int i = 0; i < x.length; i++) {
            double d = (double) x[i] - y[i];
            num += d * d;
            den += (double) y[i] * y[i];
        }
        return Math.sqrt(num / den);
    }

    // ------------------------------------------------------------ table

    private void printTable() {
        System.out.println();
        System.out.println("| section | what | median ms | rate | of ceiling |");
        System.out.println("| --- | --- | ---: | --- | --- |");
        for (Row r : rows) {
            System.out.printf("| %s | %s | %s | %s | %s |%n", r.section(), r.name(), Double.isNaN(r.ms()) ? "" : String.format("%.3f", r.ms()),
                    r.rate(), r.ofCeiling());
        }
    }
}
