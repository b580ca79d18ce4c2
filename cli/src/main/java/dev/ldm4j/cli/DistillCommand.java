// ./ldm4j distill progressive | consistency: few-step students of a diffusers model (the teacher), trained with
// ldm4j's own training loop on the teacher's data (shapes-v1 or a folder of captioned images) in its frozen VAE's
// latent space, with its frozen text encoder. The objectives are dev.ldm4j.train.distill (ProgressiveDistillation,
// ConsistencyDistillation; docs/DISTILLATION.md). Every flag is checked before anything is written; --resume
// continues a run, Ctrl-C saves a checkpoint. The output folder is a diffusers folder `generate --model` samples at
// its own defaults.
package dev.ldm4j.cli;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.model.GenerationDefaults;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.train.Architectures;
import dev.ldm4j.train.TrainingLoop;
import dev.ldm4j.train.UNetTraining;
import dev.ldm4j.train.data.CaptionedImageDataset;
import dev.ldm4j.train.data.ShapesDataset;
import dev.ldm4j.train.distill.ConsistencyDistillation;
import dev.ldm4j.train.distill.ProgressiveDistillation;
import dev.ldm4j.train.distill.Students;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.WeightException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static dev.ldm4j.cli.TrainCommand.require;

@Command(name = "distill", mixinStandardHelpOptions = true,
        description = "Distill a model into a few-step student: progressive distillation or latent consistency distillation.",
        subcommands = {DistillCommand.Progressive.class, DistillCommand.Consistency.class})
public final class DistillCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** What both methods share: the teacher, the data, the student's architecture, the sample prompts. */
    abstract static class Options extends TrainCommand.LoopOptions {
        @Option(names = "--teacher", required = true, paramLabel = "DIR",
                description = "The model to distill: a diffusers folder (unet, text_encoder, tokenizer, vae, scheduler) or a built-in model's name.")
        Path teacher;

        @Option(names = "--data", defaultValue = "shapes", paramLabel = "SPEC",
                description = "'shapes' (shapes-v1) or a folder of images with metadata.jsonl or .txt captions (default: ${DEFAULT-VALUE}).")
        String data;

        @Option(names = "--resolution", defaultValue = "64", description = "Image side in pixels (default: ${DEFAULT-VALUE}).")
        int resolution;

        @Option(names = "--student-arch", paramLabel = "FILE",
                description = "JSON whose \"unet\" section (diffusers config keys) replaces keys of the teacher's U-Net config, e.g. "
                        + "{\"unet\": {\"block_out_channels\": [32, 64, 64]}}: a smaller student, from a new initialisation with "
                        + "every teacher tensor of the same name and shape copied in (default: the teacher's architecture and weights).")
        Path studentArch;

        @Option(names = "--sample-prompt", paramLabel = "TEXT", description = "A prompt for the samples grid written at each save (repeatable; default: eight shapes prompts for --data shapes).")
        List<String> samplePrompts = new ArrayList<>();

        /** The loop's flags, then the teacher folder, the data and the student architecture. */
        void validate(String stepsFlag, long steps, double emaDecay) {
            validateLoop(stepsFlag, steps, emaDecay);
            TrainCommand.checkData(data, resolution);
            teacher = BuiltinModels.resolve(teacher);
            for (String f : List.of("unet/config.json", "text_encoder/config.json", "vae/config.json", "scheduler/scheduler_config.json",
                    "tokenizer/vocab.json")) {
                require(Files.isRegularFile(teacher.resolve(f)), "--teacher " + teacher + ": no " + f + " (a diffusers model folder is needed)");
            }
            if (studentArch != null) {
                require(Files.isRegularFile(studentArch), "--student-arch " + studentArch + ": no such file");
                require(studentUnet() != null, "--student-arch " + studentArch + ": no \"unet\" section");
            }
        }

        /** The "unet" section of --student-arch, or null for none. */
        @SuppressWarnings("unchecked")
        Map<String, Object> studentUnet() {
            if (studentArch == null) {
                return null;
            }
            Object o;
            try {
                o = Json.parseObject(studentArch).get("unet");
            } catch (RuntimeException e) {
                throw new Main.UserError("--student-arch " + studentArch + ": " + e.getMessage());
            }
            return o instanceof Map<?, ?> m ? (Map<String, Object>) m : null;
        }

        UNetTraining.Parts loadTeacher(Path dir) {
            return Architectures.load(dir, dir);
        }

        CaptionedImageDataset dataset() {
            return TrainCommand.dataset(data, seed, resolution);
        }

        List<String> prompts(CaptionedImageDataset d) {
            return !samplePrompts.isEmpty() ? samplePrompts : d instanceof ShapesDataset ? Architectures.SHAPES_SAMPLE_PROMPTS : List.of();
        }

        /** A student from Students, an IllegalArgumentException (an incompatible --student-arch) said in one line. */
        UNetTraining.Parts student(Supplier<UNetTraining.Parts> make) {
            try {
                return make.get();
            } catch (IllegalArgumentException | WeightException e) {
                if (studentArch == null) {
                    throw e;
                }
                throw new Main.UserError("--student-arch " + studentArch + ": " + e.getMessage());
            }
        }

        /** The teacher's default guidance scale (its ldm4j_defaults.json, else 7.5). */
        double teacherGuidance() {
            return GenerationDefaults.guidance(GenerationDefaults.of(teacher), null, false);
        }

        int trainTimesteps() {
            Object n = Json.parseObject(teacher.resolve("scheduler/scheduler_config.json")).get("num_train_timesteps");
            return n instanceof Number x ? x.intValue() : 1000;
        }
    }

    @Command(name = "progressive", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Progressive distillation (Salimans & Ho 2022): rounds that halve the DDIM step count, from --from-steps to "
                    + "--to-steps; in each a student (the previous round's, the first a copy of the teacher) learns to take two "
                    + "teacher steps in one. The first round's teacher runs with classifier-free guidance at --guidance; the students"
                    + " are conditional only (guidance distilled in). Rounds go to OUT/rounds/, the final student to OUT.")
    static final class Progressive extends Options implements Callable<Integer> {
        @Option(names = "--from-steps", defaultValue = "64", description = "DDIM steps of the teacher in the first round (default: ${DEFAULT-VALUE}).")
        int fromSteps;

        @Option(names = "--to-steps", defaultValue = "4", description = "DDIM steps of the final student: from-steps / 2^rounds, dividing the 1000 training timesteps (default: ${DEFAULT-VALUE}).")
        int toSteps;

        @Option(names = "--steps-per-round", defaultValue = "500", description = "Optimizer steps of each round (default: ${DEFAULT-VALUE}).")
        long stepsPerRound;

        @Option(names = "--guidance", description = "Classifier-free guidance scale of the first round's teacher (default: the teacher's default guidance); 1 = none.")
        Double guidance;

        @Option(names = "--ema-decay", defaultValue = "0", description = "EMA of each round's student (diffusers' EMAModel), written to its folder; 0 = off (default: ${DEFAULT-VALUE}).")
        double emaDecay;

        @Override
        public Integer call() {
            validate("--steps-per-round", stepsPerRound, emaDecay);
            require(toSteps >= 1, "--to-steps must be at least 1, got " + toSteps);
            require(fromSteps > toSteps && fromSteps % toSteps == 0 && Integer.bitCount(fromSteps / toSteps) == 1,
                    "--from-steps " + fromSteps + " must be --to-steps (" + toSteps + ") times a power of two, at least 2");
            int t = trainTimesteps();
            require(t % toSteps == 0, "--to-steps " + toSteps + " must divide the teacher's " + t + " training timesteps (so DDIM's grid is the one trained)");
            require(fromSteps <= t, "--from-steps " + fromSteps + " exceeds the teacher's " + t + " training timesteps");
            double g = guidance != null ? guidance : teacherGuidance();
            require(Double.isFinite(g) && g >= 1, "--guidance must be a finite number >= 1, got " + g);
            Map<String, Object> arch = studentUnet();
            CaptionedImageDataset d = dataset();
            // The first round (the guided teacher, the student of --student-arch) is built before anything is written.
            UNetTraining.Parts firstTeacher = loadTeacher(teacher);
            UNetTraining.Parts studentParts = student(() -> Students.progressive(firstTeacher, arch, fromSteps / 2, seed));
            AutogradBackend ag = new AutogradBackend(backend());
            ProgressiveDistillation objective = new ProgressiveDistillation(firstTeacher, studentParts, fromSteps / 2, g > 1 ? g : null,
                    ClipTokenizer.load(teacher.resolve("tokenizer")), ag, prompts(d));
            prepareOut();
            PrintStream err = System.err;
            Path previous = teacher;
            int round = 0;
            for (int n = fromSteps / 2; n >= toSteps; n /= 2) {
                round++;
                Path dir = out.resolve("rounds").resolve(String.format("round-%d-%dsteps", round, n));
                long done = (round - 1) * stepsPerRound;
                if (stopAfter != null && stopAfter <= done) {
                    err.println("stopped before round " + round + " (--stop-after " + stopAfter + "); --resume continues");
                    return 0;
                }
                if (round > 1) {
                    UNetTraining.Parts teacherParts = loadTeacher(previous);           // the last round's student, already guided
                    studentParts = Students.progressive(teacherParts, null, n, seed);
                    ag = new AutogradBackend(backend());
                    objective = new ProgressiveDistillation(teacherParts, studentParts, n, null,
                            ClipTokenizer.load(previous.resolve("tokenizer")), ag, prompts(d));
                }
                err.printf("distill progressive, round %d: %d -> %d steps, %,d student parameters, %d steps of %d images%n",
                        round, 2 * n, n, studentParts.unet().parameterCount(), stepsPerRound, batch);
                TrainingLoop loop = new TrainingLoop(settings(stepsPerRound, emaDecay), objective.trainable(), ag, objective, d, dir, err);
                if (stopAfter != null) {
                    loop.stopAt(stopAfter - done);
                }
                long last = runLoopTo(loop, err);
                if (last < stepsPerRound) {
                    err.println("stopped in round " + round + " at its step " + last + "; --resume continues");
                    return 0;
                }
                previous = dir;
            }
            copyModel(previous, out);
            err.println("wrote the " + toSteps + "-step student to " + out);
            return 0;
        }
    }

    @Command(name = "consistency", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Latent consistency distillation (Luo et al. 2023, Algorithm 1): a student with a guidance embedding "
                    + "(time_cond_proj_dim) learns to map any point of the teacher's guided probability-flow ODE to its end, from one"
                    + " DDIM step of the teacher over K training timesteps and an EMA target network. OUT samples in 4 steps with the"
                    + " LCM scheduler and no unconditional pass.")
    static final class Consistency extends Options implements Callable<Integer> {
        @Option(names = "--steps", defaultValue = "1000", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
        long steps;

        @Option(names = "--solver", defaultValue = "ddim", description = "The teacher's ODE solver: ddim (default: ${DEFAULT-VALUE}).")
        String solver;

        @Option(names = "--skip", defaultValue = "20", paramLabel = "K", description = "Skipping step K: the solver's timesteps are K apart, K dividing the 1000 training timesteps (default: ${DEFAULT-VALUE}).")
        int skip;

        @Option(names = "--w-min", defaultValue = "2", description = "Least guidance w drawn (LCM's cond + w (cond - uncond), i.e. a guidance scale of 1 + w) (default: ${DEFAULT-VALUE}).")
        double wMin;

        @Option(names = "--w-max", defaultValue = "8", description = "Largest guidance w drawn (default: ${DEFAULT-VALUE}).")
        double wMax;

        @Option(names = "--guidance", description = "The student's default guidance scale 1 + w, written to its ldm4j_defaults.json (default: the teacher's, within [1 + w-min, 1 + w-max]).")
        Double guidance;

        @Option(names = "--ema-decay", defaultValue = "0.95", description = "mu of the target network theta- <- mu theta- + (1 - mu) theta, which is also the model written (default: ${DEFAULT-VALUE}).")
        double emaDecay;

        @Override
        public Integer call() {
            validate("--steps", steps, emaDecay);
            require(solver.equals("ddim"), "--solver must be ddim, got '" + solver + "'");
            require(emaDecay > 0, "--ema-decay must be in (0, 1) (the target network), got " + emaDecay);
            require(Double.isFinite(wMin) && wMin >= 0, "--w-min must be a finite number >= 0, got " + wMin);
            require(Double.isFinite(wMax) && wMax >= wMin, "--w-max must be a finite number >= --w-min (" + wMin + "), got " + wMax);
            int t = trainTimesteps();
            require(skip >= 2 && t % skip == 0, "--skip " + skip + " must be at least 2 and divide the teacher's " + t + " training timesteps");
            double g = guidance != null ? guidance : Math.min(1 + wMax, Math.max(1 + wMin, teacherGuidance()));
            require(Double.isFinite(g) && g >= 1, "--guidance must be a finite number >= 1, got " + g);
            Map<String, Object> arch = studentUnet();
            CaptionedImageDataset d = dataset();
            UNetTraining.Parts teacherParts = loadTeacher(teacher);
            UNetTraining.Parts studentParts = student(() -> Students.consistency(teacherParts, arch, skip, g - 1, seed));
            AutogradBackend ag = new AutogradBackend(backend());
            ClipTokenizer tokenizer = ClipTokenizer.load(teacher.resolve("tokenizer"));
            ConsistencyDistillation objective = new ConsistencyDistillation(teacherParts, studentParts, skip, wMin, wMax, tokenizer, ag, prompts(d));
            prepareOut();
            System.err.printf("distill consistency: %,d student parameters, K = %d, w in [%s, %s], %d steps of %d images%n",
                    studentParts.unet().parameterCount(), skip, wMin, wMax, steps, batch);
            TrainingLoop loop = new TrainingLoop(settings(steps, emaDecay), objective.trainable(), ag, objective, d, out, System.err)
                    .emaConfig(ConsistencyDistillation.targetEma(emaDecay));
            return runLoop(loop, System.err);
        }
    }

    /** The diffusers folder of a finished round (model_index, defaults, components), copied into out. */
    static void copyModel(Path from, Path to) {
        try {
            for (String f : List.of("model_index.json", GenerationDefaults.NAME, "samples.png")) {
                if (Files.isRegularFile(from.resolve(f))) {
                    Files.copy(from.resolve(f), to.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            for (String c : List.of("unet", "text_encoder", "tokenizer", "vae", "scheduler")) {
                Path src = from.resolve(c);
                try (Stream<Path> s = Files.walk(src)) {
                    for (Path p : s.toList()) {
                        Path dst = to.resolve(c).resolve(src.relativize(p).toString());
                        if (Files.isDirectory(p)) {
                            Files.createDirectories(dst);
                        } else {
                            Files.copy(p, dst, StandardCopyOption.REPLACE_EXISTING);
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new Main.UserError("--out " + to + ": cannot write the final student: " + e.getMessage());
        }
    }
}
