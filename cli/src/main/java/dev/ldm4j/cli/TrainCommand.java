// ./ldm4j train vae | train unet: trains the two stages of latent diffusion with ldm4j's own autograd, on the
// procedural shapes dataset or a folder of captioned images, into a diffusers model folder. Every flag is checked
// before anything is written; --resume continues from DIR/checkpoint bit for bit; Ctrl-C saves a checkpoint.
package dev.ldm4j.cli;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.train.ModelInit;
import dev.ldm4j.train.TrainableWeights;
import dev.ldm4j.train.TrainingLoop;
import dev.ldm4j.train.UNetTraining;
import dev.ldm4j.train.VaeLoss;
import dev.ldm4j.train.VaeTraining;
import dev.ldm4j.train.Architectures;
import dev.ldm4j.train.data.CaptionedImageDataset;
import dev.ldm4j.train.data.ImageFolderDataset;
import dev.ldm4j.train.data.ShapesDataset;
import dev.ldm4j.train.optim.LrSchedule;
import dev.ldm4j.train.text.BpeTrainer;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a latent diffusion model's VAE or U-Net (with its text encoder) on the CPU.",
        subcommands = {TrainCommand.Vae.class, TrainCommand.UNet.class})
public final class TrainCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * The options of any run of the training loop (train and distill): the output folder and its resume rules, the
     * optimizer and its schedule, the seed, logging and saving.
     */
    abstract static class LoopOptions {
        @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (a diffusers model folder, the log, pictures, the checkpoint).")
        Path out;

        @Option(names = "--batch", defaultValue = "8", description = "Images per step (default: ${DEFAULT-VALUE}).")
        int batch;

        @Option(names = "--lr", defaultValue = "1e-3", description = "Peak learning rate of AdamW (default: ${DEFAULT-VALUE}).")
        double lr;

        @Option(names = "--lr-schedule", defaultValue = "cosine", description = "constant, constant_with_warmup, linear or cosine (default: ${DEFAULT-VALUE}).")
        String lrSchedule;

        @Option(names = "--warmup", defaultValue = "100", description = "Warm-up steps of the learning rate (default: ${DEFAULT-VALUE}).")
        int warmup;

        @Option(names = "--weight-decay", defaultValue = "0.01", description = "AdamW's decoupled weight decay, not applied to biases and norms (default: ${DEFAULT-VALUE}).")
        double weightDecay;

        @Option(names = "--max-grad-norm", defaultValue = "1.0", description = "Global gradient-norm clipping; 0 = off (default: ${DEFAULT-VALUE}).")
        double maxGradNorm;

        @Option(names = "--seed", defaultValue = "0", description = "Seed of the initial weights, the batches and every random draw (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--log-every", defaultValue = "10", description = "Steps per log record (default: ${DEFAULT-VALUE}).")
        int logEvery;

        @Option(names = "--save-every", defaultValue = "250", description = "Steps per checkpoint, model folder and pictures (default: ${DEFAULT-VALUE}).")
        int saveEvery;

        @Option(names = "--profile", description = "After the run, print time per op (forward and backward kernels) to stderr.")
        boolean profile;

        @Option(names = "--gradient-checkpointing", description = "Keep only the inputs of each resnet and transformer block for backward and recompute the rest there: less activation memory, about one more forward per step.")
        boolean gradientCheckpointing;

        @Option(names = "--replicas", defaultValue = "1", paramLabel = "N", description = "Cut each batch into N parts computed at the same time, one thread each (data parallelism): on a CPU with few cores, faster than splitting every op. The random draws depend on N, so resume with the same N (default: ${DEFAULT-VALUE}).")
        int replicas;

        @Option(names = "--stop-after", paramLabel = "STEP", description = "End this run after STEP (saving a checkpoint), to continue later with --resume.")
        Long stopAfter;

        @Option(names = "--resume", description = "Continue from DIR/checkpoint (starts afresh when DIR has none).")
        boolean resume;

        @Option(names = "--overwrite", description = "Start afresh in an existing DIR, replacing what it holds.")
        boolean overwrite;

        /** Checks the loop's flags (steps: the run's step count, given by the flag stepsFlag) and that --out may be written. */
        void validateLoop(String stepsFlag, long steps, double emaDecay) {
            require(steps >= 1, stepsFlag + " must be at least 1, got " + steps);
            require(batch >= 1, "--batch must be at least 1, got " + batch);
            require(replicas >= 1 && replicas <= batch, "--replicas must be between 1 and the batch size " + batch + ", got " + replicas);
            require(Double.isFinite(lr) && lr > 0, "--lr must be a positive number, got " + lr);
            require(LrSchedule.NAMES.contains(lrSchedule), "--lr-schedule must be one of " + LrSchedule.NAMES + ", got '" + lrSchedule + "'");
            require(warmup >= 0, "--warmup must be 0 or more, got " + warmup);
            require(Double.isFinite(weightDecay) && weightDecay >= 0, "--weight-decay must be 0 or more, got " + weightDecay);
            require(Double.isFinite(maxGradNorm) && maxGradNorm >= 0, "--max-grad-norm must be 0 or more, got " + maxGradNorm);
            require(emaDecay >= 0 && emaDecay < 1, "--ema-decay must be in [0, 1), got " + emaDecay);
            require(logEvery >= 1, "--log-every must be at least 1, got " + logEvery);
            require(saveEvery >= 1, "--save-every must be at least 1, got " + saveEvery);
            require(!(resume && overwrite), "--resume and --overwrite exclude each other");
            require(stopAfter == null || stopAfter >= 1, "--stop-after must be at least 1, got " + stopAfter);
            if (Files.exists(out)) {
                require(Files.isDirectory(out), "--out " + out + " exists and is not a folder");
                require(resume || overwrite || isEmpty(out), "--out " + out + " exists; pass --resume to continue it or --overwrite to start afresh");
            }
        }

        TrainingLoop.Settings settings(long steps, double emaDecay) {
            return new TrainingLoop.Settings(steps, batch, lr, lrSchedule, warmup, weightDecay, maxGradNorm, emaDecay, seed, logEvery, saveEvery);
        }

        void prepareOut() {
            try {
                if (overwrite && Files.exists(out)) {
                    try (Stream<Path> s = Files.walk(out)) {
                        for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                            if (!p.equals(out)) {
                                Files.delete(p);
                            }
                        }
                    }
                }
                Files.createDirectories(out);
            } catch (IOException e) {
                throw new Main.UserError("--out " + out + ": " + e.getMessage());
            }
        }

        /** The recording backend over backend(), checkpointing blocks with --gradient-checkpointing. */
        AutogradBackend autograd() {
            AutogradBackend ag = new AutogradBackend(backend());
            ag.setGradientCheckpointing(gradientCheckpointing);
            return ag;
        }

        /** The backend the run computes on: the CPU, timed op by op with --profile. */
        dev.ldm4j.tensor.Backend backend() {
            dev.ldm4j.tensor.Backend cpu = Backends.create("cpu");
            return profile ? new dev.ldm4j.tensor.ProfilingBackend(cpu) : cpu;
        }

        /** Runs the loop with Ctrl-C saving a checkpoint before the JVM exits. */
        int runLoop(TrainingLoop loop, PrintStream err) {
            if (stopAfter != null) {
                loop.stopAt(stopAfter);
            }
            runLoopTo(loop, err);
            return 0;
        }

        /** Runs the loop (its stopAt already set) with Ctrl-C saving a checkpoint before the JVM exits; returns the last step. */
        long runLoopTo(TrainingLoop loop, PrintStream err) {
            loop.replicas(replicas);
            CountDownLatch done = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                loop.requestStop();
                try {
                    done.await(120, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            });
            Runtime.getRuntime().addShutdownHook(hook);
            try {
                long last = loop.run(resume);
                err.println("saved step " + last + " to " + loop.out());
                if (loop.backend() instanceof dev.ldm4j.tensor.ProfilingBackend p) {
                    err.print(p.report());
                }
                return last;
            } finally {
                done.countDown();
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException ignored) {
                    // the JVM is already shutting down (Ctrl-C): the hook is running and waits for us
                }
            }
        }
    }

    /** The options both stages share. */
    abstract static class Common extends LoopOptions {
        @Option(names = "--data", required = true, paramLabel = "SPEC",
                description = "'shapes' (the procedural shapes-v1 dataset) or a folder of images with metadata.jsonl or .txt captions.")
        String data;

        @Option(names = "--arch", paramLabel = "FILE", description = "JSON with \"vae\", \"unet\", \"text_encoder\", \"scheduler\" sections in diffusers config keys (default: the built-in shapes architecture).")
        Path arch;

        @Option(names = "--steps", defaultValue = "1000", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
        long steps;

        @Option(names = "--ema-decay", defaultValue = "0", description = "EMA of the weights (diffusers' EMAModel), written to the model folder; 0 = off (default: ${DEFAULT-VALUE}).")
        double emaDecay;

        @Option(names = "--resolution", defaultValue = "64", description = "Image side in pixels (default: ${DEFAULT-VALUE}).")
        int resolution;

        void validate() {
            validateLoop("--steps", steps, emaDecay);
            checkData(data, resolution);
            if (arch != null) {
                require(Files.isRegularFile(arch), "--arch " + arch + ": no such file");
            }
        }

        CaptionedImageDataset dataset() {
            return TrainCommand.dataset(data, seed, resolution);
        }

        Map<String, Object> architecture() {
            return arch == null ? Architectures.shapes() : Json.parseObject(arch);
        }

        TrainingLoop.Settings settings() {
            return settings(steps, emaDecay);
        }
    }

    /** Checks --data (shapes or a folder) and --resolution. */
    static void checkData(String data, int resolution) {
        require(resolution >= 8 && resolution % 8 == 0, "--resolution must be a positive multiple of 8, got " + resolution);
        if (!data.equals("shapes")) {
            require(Files.isDirectory(Path.of(data)), "--data " + data + ": neither 'shapes' nor a folder");
        }
    }

    /** The dataset --data names: shapes-v1 (seeded) or a folder of captioned images, at the given side. */
    static CaptionedImageDataset dataset(String data, long seed, int resolution) {
        return data.equals("shapes") ? new ShapesDataset(seed, resolution) : ImageFolderDataset.open(Path.of(data), resolution);
    }

    @Command(name = "vae", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Train an AutoencoderKL: reconstruction + kl_weight x KL(q(z|x) || N(0, I)).")
    static final class Vae extends Common implements Callable<Integer> {
        @Option(names = "--model", paramLabel = "DIR", description = "Fine-tune the vae/ of this diffusers folder instead of a new VAE.")
        Path model;

        @Option(names = "--kl-weight", defaultValue = "1e-6", description = "Weight of the KL term (default: ${DEFAULT-VALUE}, as LDM's KL-f8).")
        double klWeight;

        @Option(names = "--decoder-only", description = "Train only the decoder (with --model): the encoder, and so the latent space a U-Net uses, stays as it is.")
        boolean decoderOnly;

        @Option(names = "--loss", defaultValue = "mse", description = "Per-pixel reconstruction term: mse or l1 (default: ${DEFAULT-VALUE}).")
        String loss;

        @Override
        public Integer call() {
            validate();
            require(Double.isFinite(klWeight) && klWeight >= 0, "--kl-weight must be 0 or more, got " + klWeight);
            require(loss.equals("mse") || loss.equals("l1"), "--loss must be mse or l1, got '" + loss + "'");
            if (model != null) {
                require(Files.isRegularFile(model.resolve("vae/config.json")), "--model " + model + ": no vae/config.json");
            }
            require(!decoderOnly || model != null, "--decoder-only fine-tunes an existing VAE: give --model DIR");
            CaptionedImageDataset data = dataset();
            Map<String, Object> config;
            TrainableWeights weights;
            if (model != null) {
                config = Json.parseObject(model.resolve("vae/config.json"));
                try (SafetensorsFile f = SafetensorsFile.open(model.resolve("vae/diffusion_pytorch_model.safetensors"))) {
                    weights = TrainableWeights.copyOf(f);
                }
            } else {
                config = new LinkedHashMap<>(Architectures.section(architecture(), "vae"));
                weights = ModelInit.vae(dev.ldm4j.diffusion.vae.VaeConfig.fromJson(config), seed);
            }
            prepareOut();
            AutogradBackend ag = autograd();
            VaeTraining objective = new VaeTraining(config, weights, ag, (float) klWeight,
                    loss.equals("mse") ? VaeLoss.Reconstruction.MSE : VaeLoss.Reconstruction.L1, data, seed);
            System.err.printf("train vae: %,d parameters, %s, %d steps of %d images%n", weights.parameterCount(), data.getClass().getSimpleName(), steps, batch);
            return runLoop(new TrainingLoop(settings(), objective.trainable(decoderOnly), ag, objective, data, out, System.err), System.err);
        }
    }

    @Command(name = "unet", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Train a UNet2DConditionModel (and its CLIP text encoder) by noise regression in a frozen VAE's latent space.")
    static final class UNet extends Common implements Callable<Integer> {
        @Option(names = "--vae", paramLabel = "DIR", description = "The folder 'train vae' wrote (or any diffusers folder with vae/): the frozen first stage.")
        Path vae;

        @Option(names = "--model", paramLabel = "DIR", description = "Fine-tune this diffusers folder (its unet, text encoder, tokenizer, scheduler and vae) instead of a new model.")
        Path model;

        @Option(names = "--prediction", description = "What a new U-Net predicts: eps, v or sample (default: the architecture's scheduler prediction_type; v for the built-in shapes architecture).")
        String prediction;

        @Option(names = "--caption-dropout", defaultValue = "0.1", description = "Probability of training on the empty caption, for classifier-free guidance (default: ${DEFAULT-VALUE}).")
        double captionDropout;

        @Option(names = "--min-snr-gamma", defaultValue = "0", description = "Min-SNR-gamma loss weighting (Hang et al. 2023), e.g. 5; 0 = off (default: ${DEFAULT-VALUE}).")
        double minSnrGamma;

        @Option(names = "--timestep-bias", defaultValue = "none", paramLabel = "STRATEGY",
                description = "Draw some timesteps more often, as diffusers' --timestep_bias_strategy: none, later (the noisiest) or earlier (default: ${DEFAULT-VALUE}).")
        String timestepBias;

        @Option(names = "--timestep-bias-portion", defaultValue = "0.25", description = "The share of the timesteps that --timestep-bias favours (default: ${DEFAULT-VALUE}).")
        double timestepBiasPortion;

        @Option(names = "--timestep-bias-multiplier", defaultValue = "1.0", description = "How much more often the favoured timesteps are drawn (default: ${DEFAULT-VALUE}).")
        double timestepBiasMultiplier;

        @Option(names = "--offset-noise", defaultValue = "0", description = "Offset noise strength (default: ${DEFAULT-VALUE}).")
        double offsetNoise;

        @Option(names = "--freeze-text-encoder", description = "Keep the text encoder as it is (fine-tuning); by default it trains jointly.")
        boolean freezeTextEncoder;

        @Option(names = "--sample-prompt", paramLabel = "TEXT", description = "A prompt for the samples grid written at each save (repeatable; default: eight shapes prompts for --data shapes).")
        List<String> samplePrompts = new ArrayList<>();

        @Override
        public Integer call() {
            validate();
            require(prediction == null || List.of("eps", "v", "sample").contains(prediction), "--prediction must be eps, v or sample, got '" + prediction + "'");
            require(prediction == null || model == null, "--prediction is for a new U-Net; a --model keeps the prediction_type of its scheduler");
            require(captionDropout >= 0 && captionDropout <= 1, "--caption-dropout must be in [0, 1], got " + captionDropout);
            require(Double.isFinite(minSnrGamma) && minSnrGamma >= 0, "--min-snr-gamma must be 0 or more, got " + minSnrGamma);
            require(Double.isFinite(offsetNoise) && offsetNoise >= 0, "--offset-noise must be 0 or more, got " + offsetNoise);
            require(List.of("none", "later", "earlier").contains(timestepBias), "--timestep-bias must be none, later or earlier, got '" + timestepBias + "'");
            require(timestepBiasPortion >= 0 && timestepBiasPortion <= 1, "--timestep-bias-portion must be in [0, 1], got " + timestepBiasPortion);
            require(timestepBiasMultiplier > 0 && Double.isFinite(timestepBiasMultiplier), "--timestep-bias-multiplier must be a positive number, got " + timestepBiasMultiplier);
            require(vae != null || model != null, "train unet needs --vae DIR (the frozen VAE) or --model DIR to fine-tune");
            Path vaeDir = vae != null ? vae : model;
            require(Files.isRegularFile(vaeDir.resolve("vae/config.json")), (vae != null ? "--vae " : "--model ") + vaeDir + ": no vae/config.json");
            if (model != null) {
                require(Files.isRegularFile(model.resolve("unet/config.json")), "--model " + model + ": no unet/config.json");
            }
            CaptionedImageDataset data = dataset();
            UNetTraining.Parts parts = model != null ? Architectures.load(model, vaeDir) : Architectures.fresh(architecture(), vaeDir, data, seed,
                    prediction == null ? null : switch (prediction) {
                        case "eps" -> "epsilon";
                        case "v" -> "v_prediction";
                        default -> "sample";
                    });
            prepareOut();
            Path tokDir = out.resolve("tokenizer");
            ClipTokenizer tokenizer = parts.vocabulary().tokenizer(tokDir);
            List<String> prompts = !samplePrompts.isEmpty() ? samplePrompts : data instanceof ShapesDataset ? Architectures.SHAPES_SAMPLE_PROMPTS : List.of();
            AutogradBackend ag = autograd();
            UNetTraining objective = new UNetTraining(parts, new UNetTraining.Recipe(captionDropout, minSnrGamma, offsetNoise, !freezeTextEncoder,
                    new dev.ldm4j.train.TimestepBias(timestepBias, timestepBiasPortion, timestepBiasMultiplier)),
                    tokenizer, ag, prompts);
            System.err.printf("train unet: %,d U-Net and %,d text-encoder parameters%s, %d steps of %d images%n",
                    parts.unet().parameterCount(), parts.textEncoder().parameterCount(), freezeTextEncoder ? " (frozen)" : "", steps, batch);
            return runLoop(new TrainingLoop(settings(), objective.trainable(), ag, objective, data, out, System.err), System.err);
        }
    }

    static void require(boolean ok, String message) {
        if (!ok) {
            throw new Main.UserError(message);
        }
    }

    static boolean isEmpty(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }
}
