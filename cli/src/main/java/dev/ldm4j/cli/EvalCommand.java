// ./ldm4j eval shapes: how well a model follows shapes-v1 prompts (its images read back and judged, per
// group and attribute, with the time per image) and its VAE's reconstruction PSNR; the measurement is
// dev.ldm4j.train.eval.ShapesBenchmark. Images are sampled as ./ldm4j generate samples them for the same
// model: flags, else the model folder's ldm4j_defaults.json, else 50 steps, guidance 7.5 and the model's
// own scheduler. Every flag is checked before the model loads. With --compare, a teacher and its distilled students
// are measured side by side (one table over models and step counts, one grid of the same prompts and seeds); the
// VAE's PSNR is left out there, the students sharing the teacher's VAE.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.model.GenerationDefaults;
import dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline;
import dev.ldm4j.diffusion.schedulers.Schedulers;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.train.DiffusersFolder;
import dev.ldm4j.train.Images;
import dev.ldm4j.train.eval.EvalPromptSet.Group;
import dev.ldm4j.train.eval.ShapesBenchmark;
import dev.ldm4j.train.eval.ShapesBenchmark.Report;
import dev.ldm4j.train.eval.ShapesBenchmark.Sampling;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Measure a model: prompt adherence judged from its images, and its VAE's reconstructions.",
        subcommands = {EvalCommand.Shapes.class})
public final class EvalCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The --groups names. */
    static final Map<String, Group> GROUPS = Map.of("seen", Group.SEEN, "unseen", Group.UNSEEN_PAIRS, "two", Group.TWO_OBJECTS);

    @Command(name = "shapes", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Generate the fixed shapes-v1 evaluation prompts (84: 48 seen colour-shape pairs, 12 held-out pairs,",
                    "24 two-object scenes), each with its own seed, read each image back and judge it against its prompt.",
                    "Prints per group the images correct, each attribute's accuracy and the median time per image, then the",
                    "VAE's reconstruction PSNR on fresh shapes-v1 images. Progress goes to stderr."})
    static final class Shapes implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--model", paramLabel = "PATH",
                description = "A diffusers model folder, a .safetensors checkpoint, or a built-in model's name (default: shapes).")
        Path model;

        @Option(names = "--config", paramLabel = "DIR", description = "A diffusers model folder whose configs (and tokenizer) describe a single-file checkpoint.")
        Path config;

        @Option(names = "--steps", description = "Denoising steps (default: as generate: the model folder's ldm4j_defaults.json, else 50).")
        Integer steps;

        @Option(names = "--guidance", description = "Classifier-free guidance scale (default: the model folder's, else 7.5).")
        Double guidance;

        @Option(names = "--scheduler", paramLabel = "NAME", description = "Sampler, as for generate (default: the model folder's, else the model's own).")
        String scheduler;

        @Option(names = "--karras", description = "Use Karras sigmas (with --scheduler).")
        boolean karras;

        @Option(names = "--groups", paramLabel = "LIST", split = ",", defaultValue = "seen,unseen,two",
                description = "Prompt groups, comma-separated: seen, unseen, two (default: ${DEFAULT-VALUE}).")
        List<String> groups;

        @Option(names = "--limit", paramLabel = "K", description = "At most K prompts of each group, the first ones (default: all).")
        Integer limit;

        @Option(names = "--vae-samples", paramLabel = "N", defaultValue = "64",
                description = "Images for the reconstruction PSNR; 0 skips it (default: ${DEFAULT-VALUE}).")
        int vaeSamples;

        @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|cuda", description = "Where to compute (default: ${DEFAULT-VALUE}).")
        String device;

        @Option(names = "--lora", paramLabel = "FILE[:SCALE]", description = "Apply a LoRA with this scale (default 1), as for generate (repeatable).")
        List<String> loraOptions = new java.util.ArrayList<>();

        @Option(names = "--embedding", paramLabel = "FILE[:TOKEN]", description = "Load a textual-inversion embedding, as for generate (repeatable).")
        List<String> embeddingOptions = new java.util.ArrayList<>();

        @Option(names = "--grid", paramLabel = "FILE.png", description = "Also write the generated images as one PNG grid, in prompt order.")
        Path grid;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write every number, and each failing image's prompt and failed checks, as JSON.")
        Path json;

        @Option(names = "--overwrite", description = "Replace --grid and --json if they exist.")
        boolean overwrite;

        @Option(names = "--compare", split = ",", paramLabel = "M2[,M3...]",
                description = "Compare --model (a teacher) with these models (its students): each model at each of --steps-list, and the "
                        + "teacher also at --steps (default 50), each at its own guidance and sampler; one table of the images correct "
                        + "per group and the median time per image. --grid then shows the first --grid-prompts prompts, one row each: the"
                        + " teacher at --steps beside every student at every step count of --steps-list.")
        List<Path> compare;

        @Option(names = "--steps-list", split = ",", paramLabel = "N[,N...]", defaultValue = "1,2,4,8",
                description = "Step counts of --compare (default: ${DEFAULT-VALUE}).")
        List<Integer> stepsList;

        @Option(names = "--grid-prompts", paramLabel = "K", defaultValue = "8", description = "Rows of the --compare grid (default: ${DEFAULT-VALUE}).")
        int gridPrompts;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            PrintWriter err = spec.commandLine().getErr();
            Set<Group> chosen = groups();
            checkFlags();
            if (compare != null) {
                return compare(out, err, chosen);
            }
            model = BuiltinModels.resolve(model);
            if (!Files.exists(model)) {
                throw new Main.UserError(model + ": no such file or directory");
            }
            Sampling sampling = sampling(GenerationDefaults.of(model), steps, guidance, scheduler, karras,
                    dev.ldm4j.diffusion.model.ModelDiscovery.hasGuidanceEmbedding(model));
            if (sampling.scheduler() != null && !Schedulers.names().contains(sampling.scheduler())) {
                throw new Main.UserError("unknown scheduler '" + sampling.scheduler() + "' (from " + model.resolve(GenerationDefaults.NAME)
                        + "); valid names: " + String.join(" ", Schedulers.names()));
            }

            var loras = AddonOptions.loras(loraOptions);
            var embeddings = AddonOptions.embeddings(embeddingOptions);
            long loadStart = System.nanoTime();
            try (Backend backend = Backends.create(device, Map.of());
                 StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model, config, null, null, backend, backend, loras, embeddings)) {
                AddonOptions.report(pipe.addons(), err);
                err.printf(Locale.ROOT, "ldm4j: loaded %s on %s in %.1f s%n", model, backend.name(), (System.nanoTime() - loadStart) / 1e9);
                Report report = ShapesBenchmark.run(pipe, sampling, chosen, limit == null ? Integer.MAX_VALUE : limit, vaeSamples,
                        (done, total, s) -> err.printf(Locale.ROOT, "[%d/%d] %s, seed %d: %s (%.2f s)%n", done, total,
                                s.prompt().prompt(), s.prompt().seed(), s.judgement().correct() ? "correct" : s.judgement().failures(), s.nanos() / 1e9));
                out.println("model: " + model + " (" + backend.name() + ")");
                out.print(report.table());
                out.flush();
                if (grid != null) {
                    Images.writePng(report.grid(), grid);
                    err.println("ldm4j: wrote " + grid);
                }
                if (json != null) {
                    Map<String, Object> j = new LinkedHashMap<>();
                    j.put("model", model.toString());
                    j.put("device", backend.name());
                    j.putAll(report.toJson());
                    DiffusersFolder.writeJson(json, j);
                    err.println("ldm4j: wrote " + json);
                }
            }
            return 0;
        }

        /** One row of the --compare table: a model at a step count. */
        record Row(String model, Report report) {
        }

        /** --compare: every model at every step count of --steps-list (the teacher also at --steps), one table, one grid. */
        private Integer compare(PrintWriter out, PrintWriter err, Set<Group> chosen) {
            int referenceSteps = steps != null ? steps : 50;
            List<Path> models = new ArrayList<>();
            models.add(model != null ? model : Path.of(BuiltinModels.DEFAULT));
            models.addAll(compare);
            List<Path> dirs = new ArrayList<>();
            for (int m = 0; m < models.size(); m++) {
                dirs.add(BuiltinModels.resolve(models.get(m)));
                if (!Files.exists(dirs.get(m))) {
                    throw new Main.UserError((m == 0 ? "--model " : "--compare ") + models.get(m) + ": no such file or directory");
                }
            }
            List<Row> rows = new ArrayList<>();
            List<Row> gridColumns = new ArrayList<>();
            try (Backend backend = Backends.create(device, Map.of())) {
                for (int m = 0; m < models.size(); m++) {
                    Path given = models.get(m);
                    Path dir = dirs.get(m);
                    List<Integer> counts = new ArrayList<>();
                    if (m == 0) {
                        counts.add(referenceSteps);
                    }
                    stepsList.stream().filter(n -> !counts.contains(n)).forEach(counts::add);
                    boolean lcm = dev.ldm4j.diffusion.model.ModelDiscovery.hasGuidanceEmbedding(dir);
                    try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(dir, config, null, backend)) {
                        for (int n : counts) {
                            Sampling sampling = sampling(GenerationDefaults.of(dir), n, null, null, false, lcm);
                            err.printf(Locale.ROOT, "ldm4j: %s at %d steps%n", given, n);
                            Report report = ShapesBenchmark.run(pipe, sampling, chosen, limit == null ? Integer.MAX_VALUE : limit, 0,
                                    ShapesBenchmark.Progress.NONE);
                            Row row = new Row(given.toString(), report);
                            rows.add(row);
                            if (m == 0 ? n == referenceSteps : stepsList.contains(n)) {
                                gridColumns.add(row);
                            }
                        }
                    }
                }
                out.println("device: " + backend.name());
            }
            out.print(compareTable(rows));
            out.flush();
            if (grid != null) {
                Images.writePng(compareGrid(gridColumns, gridPrompts), grid);
                err.println("ldm4j: wrote " + grid);
            }
            if (json != null) {
                List<Object> list = new ArrayList<>();
                for (Row r : rows) {
                    Map<String, Object> j = new LinkedHashMap<>();
                    j.put("model", r.model());
                    j.putAll(r.report().toJson());
                    list.add(j);
                }
                DiffusersFolder.writeJson(json, Map.of("rows", list));
                err.println("ldm4j: wrote " + json);
            }
            return 0;
        }

        /** One line per model and step count: guidance, sampler, images correct per group and overall, median time per image. */
        static String compareTable(List<Row> rows) {
            StringBuilder sb = new StringBuilder();
            List<String> groupNames = rows.getFirst().report().groups().stream().map(ShapesBenchmark.Score::name).toList();
            sb.append(String.format(Locale.ROOT, "shapes-v1 prompt adherence, %d prompts per row, images correct per group%n%n",
                    rows.getFirst().report().overall().images().total()));
            int width = Math.max(16, rows.stream().mapToInt(r -> r.model().length()).max().orElse(0));
            sb.append(String.format(Locale.ROOT, "%-" + width + "s %5s %8s  %-22s", "model", "steps", "guidance", "sampler"));
            for (String g : groupNames) {
                sb.append(String.format(Locale.ROOT, " %12s", g));
            }
            sb.append(String.format(Locale.ROOT, " %8s %9s%n", "all", "s/image"));
            for (Row r : rows) {
                Report rep = r.report();
                sb.append(String.format(Locale.ROOT, "%-" + width + "s %5d %8s  %-22s", r.model(), rep.sampling().steps(),
                        String.format(Locale.ROOT, "%.1f", rep.sampling().guidance()), shortSampler(rep.scheduler())));
                for (ShapesBenchmark.Score g : rep.groups()) {
                    sb.append(String.format(Locale.ROOT, " %11.1f%%", g.images().percent()));
                }
                sb.append(String.format(Locale.ROOT, " %7.1f%% %9.3f%n", rep.overall().images().percent(), rep.overall().medianSeconds()));
            }
            return sb.toString();
        }

        private static String shortSampler(String described) {
            int open = described.indexOf('('), close = described.indexOf(')');
            return open >= 0 && close > open ? described.substring(open + 1, close) : described;
        }

        /** Rows: the first `prompts` prompts; columns: the given runs in order (same prompts and seeds in each). */
        static java.awt.image.BufferedImage compareGrid(List<Row> columns, int prompts) {
            int n = Math.min(prompts, columns.getFirst().report().samples().size());
            List<java.awt.image.BufferedImage> tiles = new ArrayList<>();
            for (int p = 0; p < n; p++) {
                for (Row c : columns) {
                    dev.ldm4j.train.data.Rgb8Image im = c.report().samples().get(p).image();
                    tiles.add(Images.fromChw(im.toChw(), 0, im.height(), im.width()));
                }
            }
            return Images.grid(tiles, columns.size());
        }

        /**
         * Steps, guidance and sampler as ./ldm4j generate settles them (GenerateCommand.applyModelDefaults):
         * the flag when given, else the model folder's defaults, else diffusers' (50 and 7.5, or 4 and 8.5 for an LCM
         * U-Net; the model's scheduler).
         */
        static Sampling sampling(Map<String, Object> defaults, Integer steps, Double guidance, String scheduler, boolean karras,
                                 boolean latentConsistency) {
            int n = GenerationDefaults.steps(defaults, steps, latentConsistency);
            double g = GenerationDefaults.guidance(defaults, guidance, latentConsistency);
            GenerationDefaults.SchedulerChoice chosen = GenerationDefaults.scheduler(defaults, scheduler, karras);
            String s = chosen.name();
            boolean k = chosen.karras();
            if (n < 1) {
                throw new Main.UserError("steps must be at least 1, got " + n + " (from the model folder's " + GenerationDefaults.NAME + ")");
            }
            if (!(g >= 0) || Double.isInfinite(g)) {
                throw new Main.UserError("guidance must be a finite number >= 0, got " + g + " (from the model folder's " + GenerationDefaults.NAME + ")");
            }
            return new Sampling(n, g, s, k);
        }

        private Set<Group> groups() {
            Set<Group> chosen = EnumSet.noneOf(Group.class);
            for (String name : groups) {
                Group g = GROUPS.get(name.strip().toLowerCase(Locale.ROOT));
                if (g == null) {
                    throw new Main.UserError("--groups: unknown group '" + name + "'; valid: seen, unseen, two (comma-separated)");
                }
                chosen.add(g);
            }
            return chosen;
        }

        /** Everything the flags alone can tell, before any file is read. */
        private void checkFlags() {
            if (steps != null && steps < 1) {
                throw new Main.UserError("--steps must be at least 1, got " + steps);
            }
            if (guidance != null && (!(guidance >= 0) || guidance.isInfinite())) {
                throw new Main.UserError("--guidance must be a finite number >= 0, got " + guidance);
            }
            if (scheduler != null && !Schedulers.names().contains(scheduler)) {
                throw new Main.UserError("unknown scheduler '" + scheduler + "'; valid names: " + String.join(" ", Schedulers.names()));
            }
            if (karras && scheduler == null) {
                throw new Main.UserError("--karras needs --scheduler (e.g. --scheduler dpmpp_2m --karras)");
            }
            if (compare == null) {
                for (String flag : List.of("--steps-list", "--grid-prompts")) {
                    if (spec.commandLine().getParseResult().hasMatchedOption(flag)) {
                        throw new Main.UserError(flag + " goes with --compare (a teacher and its students)");
                    }
                }
            } else {
                if (compare.isEmpty()) {
                    throw new Main.UserError("--compare needs at least one model");
                }
                if (guidance != null || scheduler != null || karras) {
                    throw new Main.UserError("--compare samples each model at its own guidance and sampler; drop "
                            + (guidance != null ? "--guidance " + guidance : scheduler != null ? "--scheduler " + scheduler : "--karras"));
                }
            }
            for (int n : stepsList) {
                if (n < 1) {
                    throw new Main.UserError("--steps-list: each step count must be at least 1, got " + n);
                }
            }
            if (gridPrompts < 1) {
                throw new Main.UserError("--grid-prompts must be at least 1, got " + gridPrompts);
            }
            if (limit != null && limit < 1) {
                throw new Main.UserError("--limit must be at least 1, got " + limit);
            }
            if (vaeSamples < 0) {
                throw new Main.UserError("--vae-samples must be 0 or more, got " + vaeSamples);
            }
            if (!device.equals("cpu") && !device.equals("cuda")) {
                throw new Main.UserError("--device must be cpu or cuda, got '" + device + "'");
            }
            if (grid != null && !grid.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
                throw new Main.UserError("--grid must name a .png file, got " + grid);
            }
            List<Path> outputs = new ArrayList<>();
            if (grid != null) {
                outputs.add(grid);
            }
            if (json != null) {
                outputs.add(json);
            }
            if (outputs.size() == 2 && grid.toAbsolutePath().normalize().equals(json.toAbsolutePath().normalize())) {
                throw new Main.UserError("--grid and --json name the same file " + grid);
            }
            for (Path f : outputs) {
                if (!overwrite && Files.exists(f)) {
                    throw new Main.UserError(f + " exists; pass --overwrite to replace it, or choose another file");
                }
                Path dir = f.toAbsolutePath().getParent();
                if (dir != null && !Files.isDirectory(dir)) {
                    throw new Main.UserError("cannot write " + f + ": " + dir + " is not a directory");
                }
            }
        }
    }
}
