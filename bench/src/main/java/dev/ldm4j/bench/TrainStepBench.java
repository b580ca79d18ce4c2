// The speed of whole training steps on the CPU, at the sizes of the built-in shapes model
// (train/src/main/resources/dev/ldm4j/train/shapes-arch.json): the U-Net (+ its text encoder, trained jointly,
// latents from a frozen VAE) as `./ldm4j train unet` runs it, and the VAE alone as `./ldm4j train vae` runs it.
// A step is what TrainingLoop does per step: the objective's loss (UNetTraining / VaeTraining) on the
// AutogradBackend, backward, the gradients copied out, global-norm clipping and AdamW. New weights
// (ModelInit), a tokenizer learned from the dataset's captions, batches of shapes-v1 at 64x64.
//
// The FLOPs are counted by a ProfilingBackend under the autograd backend: the products only (convs,
// linears, matmuls, attention; forward ops, the frozen VAE's encode included, and the backward kernels),
// normalizations, pointwise ops and the optimizer count 0. Each measured step is timed by the wall clock and
// by the CPU time it used (the process's, and that of the live Java threads), spread over the cores: on a
// machine shared with other work the CPU-time rate is the closer estimate of the code's own speed. Both are
// compared with the FMA peak measured in the same run on all cores (the loop of Ceilings.fmaPeak), before
// and after the steps. The profiler's own cost is checked once: a U-Net on it and one on the bare CPU backend,
// stepped in turn.
//
// Memory per sample: the activations the tape keeps for backward (AutogradBackend.savedBytes after the
// forward) over the batch size; the live heap after a full GC at the end of the forward, above the heap
// held before the step (weights, gradients, optimizer state), over the batch size; and the highest heap
// after any GC during the measured steps (absolute).
//
// --gradient-checkpointing measures the same steps with every resnet and transformer block checkpointed.
//
// Run: bench/train-bench.sh, or
//   java --add-modules jdk.incubator.vector -Xmx6g -XX:+UseParallelGC -cp bench/target/benchmarks.jar \
//        dev.ldm4j.bench.TrainStepBench [--batches 8,16] [--warmup 4] [--steps 8] [--gradient-checkpointing]
package dev.ldm4j.bench;

import com.sun.management.GarbageCollectionNotificationInfo;
import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.bench.ops.Ceilings;
import dev.ldm4j.bench.ops.CpuTime;
import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.ProfilingBackend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.Architectures;
import dev.ldm4j.train.ModelInit;
import dev.ldm4j.train.TrainableWeights;
import dev.ldm4j.train.TrainingLoop;
import dev.ldm4j.train.UNetTraining;
import dev.ldm4j.train.VaeLoss;
import dev.ldm4j.train.VaeTraining;
import dev.ldm4j.train.data.CaptionedImage;
import dev.ldm4j.train.data.ShapesDataset;
import dev.ldm4j.train.optim.AdamW;
import dev.ldm4j.train.optim.GradClipping;
import dev.ldm4j.train.optim.TrainableParams;
import dev.ldm4j.train.text.BpeTrainer;
import jdk.incubator.vector.FloatVector;

import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

public final class TrainStepBench {
    static final int CORES = Runtime.getRuntime().availableProcessors();
    static final long SEED = 1;
    static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    /** The FMA ceiling on all cores: FLOP/s by the wall clock and by the CPU time of the looping threads. */
    record Ceiling(double wall, double cpu) {
    }

    /** What one model's step measured at one batch size. */
    record Result(String model, int batch, int steps, double fwdFlops, double bwdFlops, double wallS, double processCpuS,
                  double threadCpuS, double fwdWallS, long savedBytes, long liveAfterForward, long peakAfterGc,
                  long frozenVaeFlops) {
        double flops() {
            return fwdFlops + bwdFlops;
        }
    }

    /** One training objective ready to step: its loss, its weights by name, and the backends under it. */
    record Setup(TrainingLoop.Objective objective, Map<String, Tensor> weights, AutogradBackend ag) {
    }

    public static void main(String[] args) throws Exception {
        int[] batches = {8, 16};
        int warmup = 4, steps = 8;
        boolean checkpointing = false;
        int parts = 1;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--batches" -> batches = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--gradient-checkpointing" -> checkpointing = true;
                case "--replicas" -> parts = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("usage: TrainStepBench [--batches 8,16] [--warmup K] [--steps N] [--gradient-checkpointing] [--replicas R]");
                    System.exit(2);
                }
            }
        }
        ShapesDataset data = new ShapesDataset(SEED, 64);
        Map<String, Object> arch = Architectures.shapes();
        BpeTrainer.Vocabulary vocab = BpeTrainer.train(Architectures.captionWords(data));
        Path tokDir = Files.createTempDirectory("ldm4j-train-bench-tokenizer");
        ClipTokenizer tokenizer = vocab.tokenizer(tokDir);
        PeakHeapAfterGc gcPeak = new PeakHeapAfterGc();

        System.err.println("ceiling (before) ...");
        Ceiling before = fmaCeiling();
        List<Result> results = new ArrayList<>();
        String unetReport = "";
        double[] overhead = null;
        Map<String, double[]> inParts = new LinkedHashMap<>();
        if (parts > 1) { // first, while the JIT has seen no profiling wrapper: the steps as `train --replicas` runs them
            int b = batches[batches.length - 1];
            for (String model : List.of("unet", "vae")) {
                System.err.printf("%s, batch %d, undivided and in %d parts in turn ...%n", model, b, parts);
                java.util.function.Supplier<Setup> make = model.equals("unet")
                        ? () -> unet(arch, vocab, tokenizer, Backends.create("cpu")) : () -> vae(arch, data, Backends.create("cpu"));
                inParts.put(model, partsInTurn(make, data, b, parts, warmup, steps));
            }
        }
        for (String model : List.of("unet", "vae")) {
            for (int b : batches) {
                ProfilingBackend prof = new ProfilingBackend(Backends.create("cpu"));
                Setup s = model.equals("unet") ? unet(arch, vocab, tokenizer, prof) : vae(arch, data, prof);
                s.ag().setGradientCheckpointing(checkpointing);
                System.err.printf("%s, batch %d, gradient checkpointing %s: %d warm-up + %d measured steps ...%n",
                        model, b, checkpointing ? "on" : "off", warmup, steps);
                results.add(run(model, b, warmup, steps, s, prof, data, gcPeak, arch));
                if (model.equals("unet") && b == batches[batches.length - 1]) {
                    unetReport = prof.report();
                }
            }
            if (model.equals("unet")) {
                System.err.printf("unet, batch %d, steps with and without the profiler in turn ...%n", batches[0]);
                overhead = profilerOverhead(arch, vocab, tokenizer, data, batches[0], warmup, steps);
            }
        }
        System.err.println("ceiling (after) ...");
        Ceiling after = fmaCeiling();
        try (Stream<Path> files = Files.walk(tokDir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
        print(results, before, after, overhead, inParts, unetReport);
    }

    /** The U-Net and text encoder (new weights), the frozen VAE (new weights), as `train unet` builds them. */
    @SuppressWarnings("unchecked")
    static Setup unet(Map<String, Object> arch, BpeTrainer.Vocabulary vocab, ClipTokenizer tokenizer, Backend backend) {
        int v = vocab.vocab().size();
        Map<String, Object> text = new LinkedHashMap<>((Map<String, Object>) arch.get("text_encoder"));
        text.put("vocab_size", v);
        text.put("bos_token_id", v - 2);
        text.put("eos_token_id", v - 1);
        text.put("pad_token_id", v - 1);
        Map<String, Object> unet = (Map<String, Object>) arch.get("unet");
        Map<String, Object> vae = (Map<String, Object>) arch.get("vae");
        Map<String, Object> sched = (Map<String, Object>) arch.get("scheduler");
        UNetTraining.Parts parts = new UNetTraining.Parts(unet, ModelInit.unet(UNetConfig.fromJson(unet), SEED),
                text, ModelInit.textEncoder(ClipTextConfig.fromJson(text), SEED + 1),
                vae, ModelInit.vae(VaeConfig.fromJson(vae), SEED + 2),
                (Map<String, Object>) sched.get("config"), (String) sched.get("class"), vocab, null);
        AutogradBackend ag = new AutogradBackend(backend);
        // The command line's defaults: caption dropout 0.1, no min-SNR weighting, no offset noise, text encoder trained.
        UNetTraining objective = new UNetTraining(parts, new UNetTraining.Recipe(0.1, 0, 0, true), tokenizer, ag, List.of());
        return new Setup(objective, objective.trainable(), ag);
    }

    /** A new VAE with the command line's defaults (KL weight 1e-6, MSE). */
    @SuppressWarnings("unchecked")
    static Setup vae(Map<String, Object> arch, ShapesDataset data, Backend backend) {
        Map<String, Object> config = (Map<String, Object>) arch.get("vae");
        TrainableWeights weights = ModelInit.vae(VaeConfig.fromJson(config), SEED);
        AutogradBackend ag = new AutogradBackend(backend);
        VaeTraining objective = new VaeTraining(config, weights, ag, 1e-6f, VaeLoss.Reconstruction.MSE, data, SEED);
        return new Setup(objective, weights.parameters(), ag);
    }

    /**
     * warmup + steps training steps at batch size b; prof (null for a bare backend) counts the FLOPs of the
     * measured ones. The last warm-up step measures memory (savedBytes, a full GC after the forward).
     */
    static Result run(String model, int b, int warmup, int steps, Setup s, ProfilingBackend prof, ShapesDataset data,
                      PeakHeapAfterGc gcPeak, Map<String, Object> arch) {
        Stepper st = new Stepper(s, prof, data, b);
        for (int step = 1; step <= warmup + steps; step++) {
            if (step == warmup + 1) {
                if (prof != null) {
                    prof.reset();
                }
                gcPeak.reset();
            }
            st.step(step, step > warmup, step == warmup);
        }
        s.ag().clearTape();
        long frozenVae = model.equals("unet") ? frozenVaeFlops(arch, data, b) : 0;
        return new Result(model, b, steps, st.fwdFlops, st.bwdFlops, st.wall, st.processCpu, st.threadCpu, st.fwdWall,
                st.savedBytes, st.liveAfterForward, gcPeak.peak(), frozenVae);
    }

    /** One model's training steps, as TrainingLoop takes them, with their times and FLOPs summed over the measured ones. */
    static final class Stepper {
        final Setup s;
        final ProfilingBackend prof;
        final ShapesDataset data;
        final int b;
        final TrainableParams params = new TrainableParams();
        final AdamW adam;
        long savedBytes, liveAfterForward;
        double fwdFlops, bwdFlops, wall, processCpu, threadCpu, fwdWall;

        /** Parts each batch is cut into (TrainingLoop.replicas); 1 = the undivided step, whose forward is timed apart. */
        final int parts;

        Stepper(Setup s, ProfilingBackend prof, ShapesDataset data, int b) {
            this(s, prof, data, b, 1);
        }

        Stepper(Setup s, ProfilingBackend prof, ShapesDataset data, int b, int parts) {
            this.s = s;
            this.prof = prof;
            this.data = data;
            this.b = b;
            this.parts = parts;
            s.weights().forEach(params::add);
            adam = new AdamW(params, AdamW.Hyperparameters.defaults(), AdamW.biasesAndNorms());
            s.weights().values().forEach(s.ag()::requireGrad);
        }

        /** Training step number step (1-based; it fixes the batch and the draws), timed when measured. */
        void step(int step, boolean measured, boolean memoryStep) {
            List<CaptionedImage> batch = new ArrayList<>(b);
            for (int i = 0; i < b; i++) {
                batch.add(data.get((long) (step - 1) * b + i));
            }
            TorchGenerator gen = new TorchGenerator(SEED * 1_000_003 + step);
            SplittableRandom random = new SplittableRandom(SEED * 7_919 + step);
            long heapBefore = 0;
            if (memoryStep) {
                s.ag().clearTape(); // the last step's results stay reachable through the tape's bookkeeping until then
                heapBefore = liveHeap();
            }
            if (parts > 1) {
                long w0 = System.nanoTime(), p0 = OS.getProcessCpuTime(), t0 = threadCpu();
                TrainingLoop.lossAndGradients(s.ag(), s.objective(), s.weights(), params, batch, parts,
                        k -> new TorchGenerator(SEED * 1_000_003 + step + 7_919L * k), k -> new SplittableRandom(SEED * 7_919 + step + 104_729L * k),
                        new LinkedHashMap<>());
                update();
                long w1 = System.nanoTime(), p1 = OS.getProcessCpuTime(), t1 = threadCpu();
                if (measured) {
                    wall += (w1 - w0) / 1e9;
                    processCpu += (p1 - p0) / 1e9;
                    threadCpu += (t1 - t0) / 1e9;
                }
                return;
            }
            long w0 = System.nanoTime(), p0 = OS.getProcessCpuTime(), t0 = threadCpu();
            long f0 = prof == null ? 0 : prof.totalFlops();
            s.ag().clearTape();
            TrainingLoop.StepLoss l = s.objective().loss(s.ag(), batch, gen, random);
            long wFwd = System.nanoTime();
            long f1 = prof == null ? 0 : prof.totalFlops();
            if (memoryStep) {
                savedBytes = s.ag().savedBytes();
                liveAfterForward = liveHeap() - heapBefore;
            }
            AutogradBackend.Gradients grads = s.ag().backward(l.loss());
            for (TrainableParams.Param p : params) {
                Tensor g = grads.of(s.weights().get(p.name()));
                System.arraycopy(g.toFloatArray(), 0, p.grad(), 0, p.numel());
            }
            update();
            long f2 = prof == null ? 0 : prof.totalFlops();
            long w1 = System.nanoTime(), p1 = OS.getProcessCpuTime(), t1 = threadCpu();
            if (measured) {
                fwdFlops += f1 - f0;
                bwdFlops += f2 - f1;
                wall += (w1 - w0) / 1e9;
                fwdWall += (wFwd - w0) / 1e9;
                processCpu += (p1 - p0) / 1e9;
                threadCpu += (t1 - t0) / 1e9;
            }
        }

        /** Clipping and AdamW, as TrainingLoop does after each step's gradients. */
        void update() {
            float norm = GradClipping.clipGradNorm(params, 1.0);
            if (!GradClipping.nonFinite(norm)) {
                adam.step(1e-4);
            }
        }
    }

    /**
     * A model's step (make builds it on the bare CPU backend) undivided and cut into `parts` parts computed at once
     * (TrainingLoop.replicas), stepped in turn (the same batches). Returns {parts, wall and process CPU seconds per
     * step undivided, the same in parts}.
     */
    static double[] partsInTurn(java.util.function.Supplier<Setup> make, ShapesDataset data, int b, int parts, int warmup, int steps) {
        Stepper whole = new Stepper(make.get(), null, data, b);
        Stepper split = new Stepper(make.get(), null, data, b, parts);
        for (int step = 1; step <= warmup + steps; step++) {
            whole.step(step, step > warmup, false);
            split.step(step, step > warmup, false);
        }
        whole.s.ag().clearTape();
        return new double[] {parts, whole.wall / steps, whole.processCpu / steps, split.wall / steps, split.processCpu / steps};
    }

    /**
     * The profiler's own cost: two U-Nets, one on a ProfilingBackend and one on the bare CPU backend, stepped in
     * turn (the same batches), so that load and JIT drift fall on both alike. Returns {batch, wall and process
     * CPU seconds per step with the profiler, the same without}.
     */
    static double[] profilerOverhead(Map<String, Object> arch, BpeTrainer.Vocabulary vocab, ClipTokenizer tokenizer,
                                     ShapesDataset data, int b, int warmup, int steps) {
        Stepper with = new Stepper(unet(arch, vocab, tokenizer, new ProfilingBackend(Backends.create("cpu"))), null, data, b);
        Stepper without = new Stepper(unet(arch, vocab, tokenizer, Backends.create("cpu")), null, data, b);
        for (int step = 1; step <= warmup + steps; step++) {
            with.step(step, step > warmup, false);
            without.step(step, step > warmup, false);
        }
        with.s.ag().clearTape();
        without.s.ag().clearTape();
        return new double[] {b, with.wall / steps, without.wall / steps, with.processCpu / steps, without.processCpu / steps};
    }

    /** The FLOPs of the frozen VAE's encode of one batch of b images (a part of each U-Net step's forward). */
    @SuppressWarnings("unchecked")
    static long frozenVaeFlops(Map<String, Object> arch, ShapesDataset data, int b) {
        ProfilingBackend p = new ProfilingBackend(Backends.create("cpu"));
        Map<String, Object> vae = (Map<String, Object>) arch.get("vae");
        AutoencoderKL enc = new AutoencoderKL(Params.root(ModelInit.vae(VaeConfig.fromJson(vae), SEED + 2), p), VaeConfig.fromJson(vae));
        List<CaptionedImage> batch = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            batch.add(data.get(i));
        }
        enc.encode(stack(batch));
        return p.totalFlops();
    }

    static Tensor stack(List<CaptionedImage> batch) {
        int per = batch.get(0).chw().length;
        float[] a = new float[per * batch.size()];
        for (int i = 0; i < batch.size(); i++) {
            System.arraycopy(batch.get(i).chw(), 0, a, i * per, per);
        }
        return Tensor.of(a, batch.size(), 3, batch.get(0).height(), batch.get(0).width());
    }

    /** Heap in use after a full GC (the live bytes). */
    static long liveHeap() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** Summed CPU time of every live Java thread (the caller and the CPU backend's pool), in nanoseconds. */
    static long threadCpu() {
        long sum = 0;
        for (long id : THREADS.getAllThreadIds()) {
            long t = THREADS.getThreadCpuTime(id);
            if (t > 0) {
                sum += t;
            }
        }
        return sum;
    }

    /**
     * The loop of Ceilings.fmaPeak on one thread per core: warm-up until each thread has had 2 s of CPU time (2 s
     * of wall clock left the loop in the interpreter on a loaded machine: 3 GFLOP/s), then 3 s measured; FLOP/s by
     * the wall clock, and by the threads' CPU time spread over the cores.
     */
    static Ceiling fmaCeiling() throws Exception {
        CyclicBarrier start = new CyclicBarrier(CORES);
        AtomicLong calls = new AtomicLong(), cpuNanos = new AtomicLong(), endNanos = new AtomicLong();
        long[] t0 = new long[1];
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < CORES; i++) {
            Thread t = new Thread(() -> {
                try {
                    Ceilings c = new Ceilings();
                    Ceilings.Arrays a = new Ceilings.Arrays();
                    CpuTime clock = new CpuTime();
                    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
                    long until = mx.getCurrentThreadCpuTime() + 2_000_000_000L;
                    while (mx.getCurrentThreadCpuTime() < until) {
                        c.fmaPeak(a, clock);
                    }
                    start.await();
                    synchronized (t0) {
                        if (t0[0] == 0) {
                            t0[0] = System.nanoTime();
                        }
                    }
                    clock.reset();
                    long measureUntil = System.nanoTime() + 3_000_000_000L;
                    while (System.nanoTime() < measureUntil) {
                        c.fmaPeak(a, clock);
                    }
                    endNanos.accumulateAndGet(System.nanoTime(), Math::max);
                    calls.addAndGet(clock.calls);
                    cpuNanos.addAndGet(clock.cpuNanos);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        double flops = (double) calls.get() * Ceilings.fmaFlops();
        return new Ceiling(flops / ((endNanos.get() - t0[0]) / 1e9), flops / (cpuNanos.get() / 1e9 / CORES));
    }

    /** The highest heap in use right after any GC, since reset(). */
    static final class PeakHeapAfterGc {
        private final AtomicLong peak = new AtomicLong();

        PeakHeapAfterGc() {
            for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                if (gc instanceof NotificationEmitter emitter) {
                    emitter.addNotificationListener((n, h) -> {
                        if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
                            GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
                            long used = 0;
                            for (MemoryUsage u : info.getGcInfo().getMemoryUsageAfterGc().values()) {
                                used += u.getUsed();
                            }
                            peak.accumulateAndGet(used, Math::max);
                        }
                    }, null, null);
                }
            }
        }

        void reset() {
            peak.set(0);
        }

        long peak() {
            return peak.get();
        }
    }

    static void print(List<Result> results, Ceiling before, Ceiling after, double[] overhead, Map<String, double[]> inParts, String unetReport) throws IOException {
        StringBuilder out = new StringBuilder();
        double ceilWall = Math.max(before.wall, after.wall), ceilCpu = (before.cpu + after.cpu) / 2;
        out.append(String.format(Locale.ROOT, "Machine: %s, %d cores, %d-lane float vectors; load when the steps ended: %s%n",
                cpuModel(), CORES, FloatVector.SPECIES_PREFERRED.length(), loadAverage()));
        out.append(String.format(Locale.ROOT, "FMA peak (Ceilings.fmaPeak loop, all cores): before %.1f GFLOP/s wall, %.1f by CPU time; "
                        + "after %.1f wall, %.1f by CPU time. Shares below: of the CPU-time peak %.1f (mean), and of the wall peak %.1f (the higher one).%n%n",
                before.wall / 1e9, before.cpu / 1e9, after.wall / 1e9, after.cpu / 1e9, ceilCpu / 1e9, ceilWall / 1e9));
        out.append("| model | batch | GFLOP per step (fwd + bwd) | CPU-time rate | % of FMA peak (CPU time) | wall rate | % of FMA peak (wall) "
                + "| s per step (wall / process CPU) | forward share of wall | saved activations per sample | live heap after forward per sample | heap after GC, max |\n");
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Result r : results) {
            double cpuRate = r.flops() / (r.processCpuS / CORES);
            double wallRate = r.flops() / r.wallS;
            out.append(String.format(Locale.ROOT, "| %s | %d | %.2f + %.2f | %.1f GFLOP/s | %.0f%% | %.1f GFLOP/s | %.0f%% | %.3f / %.3f | %.0f%% | %.1f MB | %.1f MB | %.0f MB |%n",
                    r.model.equals("unet") ? "U-Net + text encoder" : "VAE", r.batch, r.fwdFlops / r.steps / 1e9, r.bwdFlops / r.steps / 1e9,
                    cpuRate / 1e9, 100 * cpuRate / ceilCpu, wallRate / 1e9, 100 * wallRate / ceilWall,
                    r.wallS / r.steps, r.processCpuS / r.steps, 100 * r.fwdWallS / r.wallS,
                    r.savedBytes / 1e6 / r.batch, r.liveAfterForward / 1e6 / r.batch, r.peakAfterGc / 1e6));
        }
        out.append("\nCPU time of the live Java threads (excludes GC and JIT threads) instead of the process's:\n\n");
        for (Result r : results) {
            double rate = r.flops() / (r.threadCpuS / CORES);
            out.append(String.format(Locale.ROOT, "- %s, batch %d: %.1f GFLOP/s, %.0f%% of the CPU-time peak%n",
                    r.model, r.batch, rate / 1e9, 100 * rate / ceilCpu));
        }
        for (Result r : results) {
            if (r.frozenVaeFlops > 0) {
                out.append(String.format(Locale.ROOT, "%nU-Net step, batch %d: the frozen VAE's encode is %.2f GFLOP of the forward's %.2f.",
                        r.batch, r.frozenVaeFlops / 1e9, r.fwdFlops / r.steps / 1e9));
            }
        }
        if (overhead != null) {
            out.append(String.format(Locale.ROOT, "%n%nProfiler overhead (U-Net, batch %.0f, steps with and without it in turn): %.3f s wall / %.3f s process CPU "
                    + "per step with the ProfilingBackend, %.3f / %.3f without.%n", overhead[0], overhead[1], overhead[3], overhead[2], overhead[4]));
        }
        if (!inParts.isEmpty()) {
            out.append(String.format(Locale.ROOT, "%nData parallelism (`train --replicas`): each model undivided and in parts, on the bare CPU backend, stepped "
                    + "in turn, measured before any profiled step; FLOPs per step from the profiled runs above:%n%n"));
            out.append("| model | batch | step | s per step (wall / process CPU) | wall rate | % of FMA peak (wall) | CPU-time rate | % of FMA peak (CPU time) |\n");
            out.append("|---|---|---|---|---|---|---|---|\n");
            for (Map.Entry<String, double[]> e : inParts.entrySet()) {
                int batch = batches(results).getLast();
                Result r = results.stream().filter(x -> x.model.equals(e.getKey()) && x.batch == batch).findFirst().orElseThrow();
                double perStep = r.flops() / r.steps;
                double[] t = e.getValue();
                for (int k = 0; k < 2; k++) {
                    double wall = t[1 + 2 * k], cpu = t[2 + 2 * k];
                    out.append(String.format(Locale.ROOT, "| %s | %d | %s | %.3f / %.3f | %.1f GFLOP/s | %.1f%% | %.1f GFLOP/s | %.1f%% |%n",
                            e.getKey().equals("unet") ? "U-Net + text encoder" : "VAE", batch,
                            k == 0 ? "undivided" : String.format(Locale.ROOT, "in %.0f parts", t[0]), wall, cpu,
                            perStep / wall / 1e9, 100 * perStep / wall / ceilWall, perStep / (cpu / CORES) / 1e9, 100 * perStep / (cpu / CORES) / ceilCpu));
                }
            }
        }
        out.append("\nPer op, the U-Net step at the largest batch (measured steps only; seconds are wall time inside each op):\n\n```\n")
                .append(unetReport).append("```\n");
        System.out.print(out);
    }

    /** The batch sizes the results cover, in order. */
    static List<Integer> batches(List<Result> results) {
        return results.stream().map(r -> r.batch).distinct().sorted().toList();
    }

    static String cpuModel() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
            if (line.startsWith("model name")) {
                return line.substring(line.indexOf(':') + 1).trim();
            }
        }
        return System.getProperty("os.arch");
    }

    static String loadAverage() throws IOException {
        Path p = Path.of("/proc/loadavg");
        return Files.isReadable(p) ? Files.readString(p).trim() : String.format(Locale.ROOT, "%.2f", OS.getSystemLoadAverage());
    }
}
