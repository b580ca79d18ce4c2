// The training loop shared by every model ldm4j trains: per step, a batch from the dataset, the objective's
// loss on the autograd backend, backward, global-norm clipping, AdamW with the scheduled learning rate, the
// EMA of the weights; a log record every logEvery steps, a resumable checkpoint, the model folder and its pictures
// every saveEvery steps and at the end (or when the run is interrupted). Every random draw of step s comes from
// generators seeded by (seed, s), and the batch of step s is fixed by (seed, s) too, so a resumed run takes
// exactly the steps an uninterrupted one would.
package dev.ldm4j.train;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.data.CaptionedImage;
import dev.ldm4j.train.data.CaptionedImageDataset;
import dev.ldm4j.train.optim.AdamW;
import dev.ldm4j.train.optim.EmaModel;
import dev.ldm4j.train.optim.GradClipping;
import dev.ldm4j.train.optim.LrSchedule;
import dev.ldm4j.train.optim.LrScheduler;
import dev.ldm4j.train.optim.TrainableParams;
import dev.ldm4j.train.optim.TrainingCheckpoint;
import dev.ldm4j.train.optim.TrainingState;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;

public final class TrainingLoop {
    /** One step's loss on a batch: the scalar to minimise and the terms to log beside it. */
    public record StepLoss(Tensor loss, Map<String, Double> terms) {
    }

    /** What a model's training defines: its loss on a batch, and how to write the model out. */
    public interface Objective {
        /** The loss of batch (images and captions), drawing randomness only from gen and random. */
        StepLoss loss(AutogradBackend ag, List<CaptionedImage> batch, TorchGenerator gen, SplittableRandom random);

        /** Writes the model folder (with the given weights: the EMA's when there is one) into out. */
        void writeModel(Path out, long step);

        /** Writes pictures for people to look at (samples or reconstructions) for the given step; may do nothing. */
        default void writePictures(Path out, long step) {
        }

        /**
         * Called once run() has its state (new or resumed), before the first step, with the run's EMA of the weights
         * (null when it keeps none): an objective whose loss reads the average (a consistency target network) keeps it.
         */
        default void beginRun(EmaModel ema) {
        }
    }

    /** The run's settings (validated by the command line before anything is written); pictures come with each save. */
    public record Settings(long steps, int batch, double lr, String lrSchedule, int warmupSteps, double weightDecay,
                           double maxGradNorm, double emaDecay, long seed, int logEvery, int saveEvery) {
    }

    private final Settings settings;
    private final Map<String, Tensor> weights;
    private final TrainableParams params = new TrainableParams();
    private final AutogradBackend ag;
    private final Objective objective;
    private final CaptionedImageDataset data;
    private final Path out;
    private final PrintStream progress;
    private final AtomicBoolean stop = new AtomicBoolean();

    /** weights: the tensors the model was built over (the objective's model reads them), by name. */
    public TrainingLoop(Settings settings, Map<String, Tensor> weights, AutogradBackend ag, Objective objective,
                        CaptionedImageDataset data, Path out, PrintStream progress) {
        this.settings = settings;
        this.weights = weights;
        weights.forEach(params::add);
        this.ag = ag;
        this.objective = objective;
        this.data = data;
        this.out = out;
        this.progress = progress;
    }

    private long stopAt = Long.MAX_VALUE;
    private EmaModel.Config emaConfig;
    private int replicas = 1;

    /** The EMA's full configuration for a new run (default: diffusers' EMAModel with Settings.emaDecay); used when emaDecay > 0. */
    public TrainingLoop emaConfig(EmaModel.Config config) {
        this.emaConfig = config;
        return this;
    }

    /**
     * Splits each batch into r parts of (nearly) equal size whose losses and gradients are computed at the same
     * time, one part per thread (data parallelism over the cores; Backend.concurrently), and combined weighted
     * by their sizes, so the loss is the batch mean as with one part. Each part draws its randomness from its own
     * generators, seeded by (seed, step, part): a run is reproducible for a given r, and r = 1 (the default) is
     * the undivided step. Resume a run with the r it was started with.
     */
    public TrainingLoop replicas(int r) {
        if (r < 1 || r > settings.batch()) {
            throw new IllegalArgumentException("replicas " + r + ": must be between 1 and the batch size " + settings.batch());
        }
        this.replicas = r;
        return this;
    }

    /** Ends this run (saving a checkpoint) after the given step, as if interrupted there; --resume continues it. */
    public TrainingLoop stopAt(long step) {
        this.stopAt = step;
        return this;
    }

    /** The folder the run writes. */
    public Path out() {
        return out;
    }

    /** The backend the autograd backend computes on. */
    public dev.ldm4j.tensor.Backend backend() {
        return ag.inner();
    }

    /** Asks the loop to save a checkpoint and return after the current step (Ctrl-C). */
    public void requestStop() {
        stop.set(true);
    }

    /** Runs from the checkpoint in out/checkpoint when resume is set and one exists, else from step 0; returns the last step. */
    public long run(boolean resume) {
        Path checkpointDir = out.resolve("checkpoint");
        AdamW adam;
        EmaModel ema;
        LrScheduler lr;
        long start;
        if (resume && Files.isRegularFile(checkpointDir.resolve(TrainingCheckpoint.FILE_NAME))) {
            TrainingState saved = TrainingCheckpoint.load(checkpointDir, params);
            adam = saved.optimizer();
            ema = saved.ema();
            lr = saved.lrScheduler();
            start = saved.step();
            progress.println("resuming at step " + start + " from " + checkpointDir);
        } else {
            adam = new AdamW(params, AdamW.Hyperparameters.defaults().withLr(settings.lr()).withWeightDecay(settings.weightDecay()),
                    AdamW.biasesAndNorms());
            ema = settings.emaDecay() > 0
                    ? new EmaModel(params, emaConfig != null ? emaConfig : EmaModel.Config.defaults().withDecay(settings.emaDecay())) : null;
            lr = new LrScheduler(LrSchedule.get(settings.lrSchedule(), settings.warmupSteps(), (int) settings.steps()), settings.lr());
            start = 0;
        }
        objective.beginRun(ema);
        TrainLog log = new TrainLog(out, start, progress);
        weights.values().forEach(ag::requireGrad);
        long t0 = System.nanoTime(), samplesSince = 0, stepsDone = 0;
        long logT0 = t0;
        double lossSum = 0;
        java.util.Map<String, Double> termSums = new java.util.LinkedHashMap<>();
        int logged = 0;
        long step = start;
        while (step < settings.steps() && step < stopAt && !stop.get()) {
            step++;
            List<CaptionedImage> batch = batch(step);
            Map<String, Double> terms = new java.util.LinkedHashMap<>();
            double loss = lossAndGradients(step, batch, terms);
            float norm = settings.maxGradNorm() > 0 ? GradClipping.clipGradNorm(params, settings.maxGradNorm()) : GradClipping.totalNorm(params);
            double rate = lr.lr();
            if (GradClipping.nonFinite(norm)) {
                progress.println("step " + step + ": gradient norm " + norm + ", update skipped");
            } else {
                adam.step(rate);
                if (ema != null) {
                    ema.step();
                }
            }
            lr.step();
            lossSum += loss;
            terms.forEach((k, v) -> termSums.merge(k, v, Double::sum));
            logged++;
            samplesSince += batch.size();
            stepsDone++;
            if (step % settings.logEvery() == 0 || step == settings.steps()) {
                long now = System.nanoTime();
                double seconds = (now - logT0) / 1e9;
                Map<String, Object> record = TrainLog.record(step);
                record.put("loss", lossSum / logged);
                for (Map.Entry<String, Double> e : termSums.entrySet()) {
                    record.put(e.getKey(), e.getValue() / logged);
                }
                record.put("lr", rate);
                record.put("grad_norm", (double) norm);
                record.put("samples_per_s", samplesSince / seconds);
                double perStep = (now - t0) / 1e9 / stepsDone;
                log.log(record, settings.steps(), perStep * (settings.steps() - step));
                logT0 = now;
                samplesSince = 0;
                lossSum = 0;
                termSums.clear();
                logged = 0;
            }
            if (step % settings.saveEvery() == 0 && step < settings.steps()) {
                save(step, adam, lr, ema, log);
                objective.writePictures(out, step);
            }
        }
        ag.clearTape();
        save(step, adam, lr, ema, log);
        objective.writePictures(out, step);
        return step;
    }

    /** The loss of batch (step s of this run) with its gradients in the parameters' grad arrays; terms filled in. */
    private double lossAndGradients(long step, List<CaptionedImage> batch, Map<String, Double> terms) {
        long stream = replicas == 1 ? 1 : 16; // the undivided step keeps the streams it always had
        return lossAndGradients(ag, objective, weights, params, batch, replicas,
                k -> new TorchGenerator(mix(settings.seed(), step, stream + 2L * k)),
                k -> new SplittableRandom(mix(settings.seed(), step, stream + 1 + 2L * k)), terms);
    }

    /**
     * The loss of objective on batch, its gradients written into the grad arrays of params (whose names key
     * weights), and its logged terms added into terms. parts = 1: one forward and backward over the batch,
     * drawing from gens.apply(0) and randoms.apply(0). parts = r > 1: the batch cut into r consecutive parts,
     * part k (n_k of the B samples) drawing from gens.apply(k) and randoms.apply(k), the parts computed at the
     * same time (Backend.concurrently: one thread each) and combined as the batch mean: the loss, each gradient
     * and each term is sum_k (n_k / B) x part k's, summed in the order of k.
     */
    public static double lossAndGradients(AutogradBackend ag, Objective objective, Map<String, Tensor> weights, TrainableParams params,
                                          List<CaptionedImage> batch, int parts, IntFunction<TorchGenerator> gens,
                                          IntFunction<SplittableRandom> randoms, Map<String, Double> terms) {
        int b = batch.size();
        StepLoss[] losses = new StepLoss[parts];
        float[][][] grads = new float[parts][][];
        IntConsumer part = k -> {
            ag.clearTape();
            try {
                losses[k] = objective.loss(ag, batch.subList(k * b / parts, (k + 1) * b / parts), gens.apply(k), randoms.apply(k));
                AutogradBackend.Gradients g = ag.backward(losses[k].loss());
                float[][] mine = new float[params.size()][];
                int i = 0;
                for (TrainableParams.Param p : params) {
                    mine[i++] = g.of(weights.get(p.name())).toFloatArray();
                }
                grads[k] = mine;
            } finally {
                if (parts > 1) {
                    ag.clearTape(); // the part's thread may be a pool thread: it should not keep the part's tensors
                }
            }
        };
        if (parts == 1) {
            part.accept(0);
        } else {
            ag.concurrently(parts, part);
        }
        List<TrainableParams.Param> list = params.list();
        java.util.stream.IntStream.range(0, list.size()).parallel().forEach(i -> { // element by element, parameters in parallel
            float[] into = list.get(i).grad();
            for (int k = 0; k < parts; k++) {
                float[] g = grads[k][i];
                if (parts == 1) {
                    System.arraycopy(g, 0, into, 0, into.length);
                    continue;
                }
                float w = (float) share(k, parts, b);
                for (int j = 0; j < into.length; j++) {
                    into[j] = k == 0 ? w * g[j] : into[j] + w * g[j];
                }
            }
        });
        double loss = 0;
        for (int k = 0; k < parts; k++) {
            double w = share(k, parts, b);
            loss += w * losses[k].loss().toFloatArray()[0];
            losses[k].terms().forEach((name, v) -> terms.merge(name, parts == 1 ? v : w * v, Double::sum));
        }
        return loss;
    }

    /** n_k / B: part k's share of a batch of b cut into parts. */
    private static double share(int k, int parts, int b) {
        return (double) ((k + 1) * b / parts - k * b / parts) / b;
    }

    /**
     * Saves the resumable checkpoint and the model folder; the folder gets the EMA weights when there is an
     * EMA (the training weights stay in the checkpoint).
     */
    private void save(long step, AdamW adam, LrScheduler lr, EmaModel ema, TrainLog log) {
        TrainingCheckpoint.save(out.resolve("checkpoint"), new TrainingState(step, params, adam, lr, ema, Map.of()));
        if (ema != null) {
            float[][] keep = new float[params.size()][];
            int i = 0;
            for (TrainableParams.Param p : params) {
                keep[i++] = p.value().clone();
            }
            ema.copyTo(params);
            try {
                objective.writeModel(out, step);
            } finally {
                i = 0;
                for (TrainableParams.Param p : params) {
                    System.arraycopy(keep[i++], 0, p.value(), 0, p.numel());
                }
            }
        } else {
            objective.writeModel(out, step);
        }
        log.plot(out.resolve("loss.png"), "training loss (log scale), step " + step);
    }

    /** The batch of step s: consecutive indices of a generator, or a seeded shuffle per epoch of a finite set. */
    private List<CaptionedImage> batch(long step) {
        List<CaptionedImage> b = new ArrayList<>(settings.batch());
        long first = (step - 1) * settings.batch();
        for (int i = 0; i < settings.batch(); i++) {
            long n = first + i;
            if (data.size() == Long.MAX_VALUE) {
                b.add(data.get(n));
            } else {
                long epoch = n / data.size();
                b.add(data.get(EpochShuffle.index(mix(settings.seed(), epoch, 3), data.size(), n % data.size())));
            }
        }
        return b;
    }

    /** A 64-bit mix of (seed, a, b) (SplitMix64's finalizer), for per-step generator seeds. */
    static long mix(long seed, long a, long b) {
        long z = seed * 0x9E3779B97F4A7C15L + a * 0xBF58476D1CE4E5B9L + b * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) & Long.MAX_VALUE;
    }
}
