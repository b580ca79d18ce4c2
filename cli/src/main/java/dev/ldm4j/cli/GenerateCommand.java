// ./ldm4j generate: text-to-image (or image-to-image with --image, inpainting with --image and --mask)
// from a checkpoint, written as PNG.
// Every setting is checked before the model loads, so bad input fails in a second, not after a run.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.model.GenerationDefaults;
import dev.ldm4j.diffusion.model.ModelAddons;
import dev.ldm4j.diffusion.model.ModelDiscovery;
import dev.ldm4j.diffusion.pipeline.GenerationRequest;
import dev.ldm4j.diffusion.pipeline.GenerationResult;
import dev.ldm4j.diffusion.pipeline.HiresFix;
import dev.ldm4j.diffusion.pipeline.InpaintMask;
import dev.ldm4j.diffusion.pipeline.PromptBlend;
import dev.ldm4j.diffusion.pipeline.RgbImage;
import dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline;
import dev.ldm4j.diffusion.prompt.PromptStyle;
import dev.ldm4j.diffusion.random.NoiseSource;
import dev.ldm4j.diffusion.random.TorchCudaGenerator;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.Scheduler;
import dev.ldm4j.diffusion.schedulers.SchedulerOptionException;
import dev.ldm4j.diffusion.schedulers.Schedulers;
import dev.ldm4j.diffusion.tokenizer.ClipEncoding;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.diffusion.vae.VaeFolder;
import dev.ldm4j.diffusion.vae.VaeTiling;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.ProfilingBackend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.SafetensorsWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;

@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generate images from a prompt with a Stable Diffusion 1.x or 2.x model.",
                "The same settings and seed give the image diffusers gives. Progress goes to stderr; the image to --output."})
public final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "PATH", description = {"A .safetensors checkpoint (SD 1.x/2.x, original layout), a diffusers model folder,",
            "or the name of a built-in model (./ldm4j models; default: shapes, trained by ldm4j itself)."})
    Path model;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "What to draw.")
    String prompt;

    @Option(names = "--negative-prompt", paramLabel = "TEXT", defaultValue = "", description = "What to steer away from (the unconditional branch of guidance).")
    String negativePrompt;

    @Option(names = "--prompt-style", paramLabel = "diffusers|a1111",
            description = {"How the prompts are read: diffusers (the text as it is, cut at 77 tokens; the default) or a1111",
                    "(A1111's emphasis (word:1.3) (word) [word] \\( and BREAK; prompts of any length, in chunks of 75 tokens)."})
    String promptStyle;

    @Option(names = "--from-png", paramLabel = "FILE.png",
            description = {"Take every setting from the generation parameters stored in FILE.png (by ldm4j or A1111; see",
                    "./ldm4j info); flags given beside it override them. The model is --model, else the one the file names."})
    Path fromPng;

    @Option(names = "--steps", description = {"Denoising steps (default: the model folder's ldm4j_defaults.json, else 50 as diffusers;",
            "4 for an LCM-distilled U-Net, as diffusers' LatentConsistencyModelPipeline)."})
    Integer stepsOption;
    int steps;

    @Option(names = "--guidance", description = {"Classifier-free guidance scale; <= 1 skips the unconditional pass (default: the model folder's,",
            "else 7.5). An LCM-distilled U-Net takes it as its guidance embedding, one pass per step (default 8.5)."})
    Double guidanceOption;
    double guidance;

    @Option(names = "--scheduler", paramLabel = "NAME",
            description = "Sampler: ddpm ddim pndm lms euler euler_a heun kdpm2 kdpm2_a dpmpp_2m dpmpp_2m_sde dpmpp_2s unipc deis lcm tcd,"
                    + " or a reverse-SDE sampler (docs/SDE.md): sde_euler, pc_langevin (options snr, corrector_steps), sde_euler_vp."
                    + " Default: the model folder's ldm4j_defaults.json, else the model's own (scheduler_config.json);"
                    + " lcm for an LCM-distilled U-Net whose folder names another.")
    String scheduler;

    @Option(names = "--karras", description = "Use Karras sigmas (schedulers that offer them).")
    boolean karras;

    @Option(names = "--scheduler-option", paramLabel = "KEY=VALUE",
            description = {"Set a scheduler_config.json key for this run (repeatable), as keyword arguments to diffusers'",
                    "from_config (e.g. clip_sample=false, timestep_spacing=trailing), or an argument of the scheduler's step:",
                    "eta (ddim, tcd), s_churn s_tmin s_tmax s_noise (euler). Other keys are refused with the valid ones."})
    Map<String, String> schedulerOptions = new java.util.LinkedHashMap<>();

    @Option(names = "--width", defaultValue = "0", description = "Image width, any multiple of 8 (default: the model's native size).")
    int width;

    @Option(names = "--height", defaultValue = "0", description = "Image height, any multiple of 8 (default: the model's native size).")
    int height;

    @Option(names = "--seed", description = "Seed of torch.Generator(\"cpu\").manual_seed (default: a random seed, printed).")
    Long seed;

    @Option(names = "--noise-dtype", defaultValue = "float32", paramLabel = "float32|float64",
            description = {"The dtype torch.randn draws in: float32 as a float32 diffusers pipeline, float64 as one moved",
                    "to torch.float64 (the draws differ; default: ${DEFAULT-VALUE})."})
    String noiseDtype;

    @Option(names = "--generator", defaultValue = "cpu", paramLabel = "cpu|cuda",
            description = {"Which torch.Generator the seed reproduces: cpu (bit for bit) or cuda (Philox, computed here,",
                    "within about 2e-6 of a GPU's draws; float32 only). Default: ${DEFAULT-VALUE}."})
    String generator;

    @Option(names = "--batch", defaultValue = "1", description = "Images per prompt (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--image", paramLabel = "FILE", description = "Image-to-image and inpainting: the starting image (RGB PNG or JPEG, sides multiples of 8).")
    Path image;

    @Option(names = "--mask", paramLabel = "FILE",
            description = {"Inpainting: repaint the white part of --image (a grayscale or RGB PNG or JPEG of the image's size;",
                    "gray levels of 128 and up repaint), with an inpainting model or any other (diffusers' StableDiffusionInpaintPipeline)."})
    Path mask;

    @Option(names = "--strength", defaultValue = "0.8",
            description = "Image-to-image and inpainting: how much to change the image, in (0, 1] (default: ${DEFAULT-VALUE}; 1.0 with --mask).")
    double strength;

    @Option(names = "--vae", paramLabel = "DIR",
            description = {"Decode with this autoencoder instead of the model's VAE: a diffusers folder (config.json and",
                    "diffusion_pytorch_model.safetensors, or a model folder's vae/) of an AutoencoderKL (e.g. a fine-tuned SD VAE)",
                    "or an AutoencoderTiny (TAESD: a fraction of the decode time, less fine detail). It also encodes --image",
                    "where it has an encoder; with --trace, an AutoencoderTiny draws each step's x0."})
    Path vae;

    @Option(names = "--vae-tiling",
            description = {"Decode (and encode) in overlapping tiles blended linearly, as diffusers' enable_vae_tiling: the memory of one",
                    "tile at any size, with small differences at the seams. On by itself (with a line on stderr) when the whole",
                    "decode would not fit in the Java heap."})
    boolean vaeTiling;

    @Option(names = "--clip-skip", defaultValue = "0", description = "Condition on the text encoder's layer this many before the last (diffusers' clip_skip; default: ${DEFAULT-VALUE}).")
    int clipSkip;

    @Option(names = "--prediction", paramLabel = "eps|v", description = "Override the model's prediction type.")
    String prediction;

    @Option(names = "--config", paramLabel = "DIR", description = "A diffusers model folder whose configs (and tokenizer) describe a single-file checkpoint.")
    Path config;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "Tokenizer for a single file: a folder with vocab.json + merges.txt or tokenizer.json, or bpe_simple_vocab_16e6.txt.gz.")
    Path tokenizer;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "cpu|cuda", description = "Where to compute (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--dtype", paramLabel = "fp32|fp16|bf16",
            description = {"With --device cuda: precision of the matrix products (linear, conv2d, matmul); fp16/bf16 run them on",
                    "tensor cores with fp32 accumulation, everything else stays fp32 (default: fp32, or $LDM4J_CUDA_DTYPE)."})
    String dtype;

    @Option(names = "--vae-dtype", paramLabel = "fp32|fp16|bf16",
            description = {"With --device cuda: precision of the VAE's matrix products (default: as --dtype). fp32 or bf16 keep",
                    "the decoder's largest activations clear of fp16's range (65504), as SD users do with fp16 U-Nets."})
    String vaeDtype;

    @Option(names = "--cuda-graph",
            description = {"With --device cuda: record the first step's U-Net call as a CUDA graph and replay it for the later",
                    "steps (one launch per step). The first replay is checked against the op-by-op step; on any failure or",
                    "difference the run continues op by op and says why. Experimental: not yet run on a GPU."})
    boolean cudaGraph;

    @Option(names = "--lora", paramLabel = "FILE[:SCALE]",
            description = {"Apply a LoRA (.safetensors, kohya/A1111 or diffusers/PEFT layout) with this scale (default 1), merged",
                    "into the weights on load (repeatable). E.g. an LCM-LoRA with --scheduler lcm --steps 4 --guidance 1."})
    List<String> loraOptions = new ArrayList<>();

    @Option(names = "--embedding", paramLabel = "FILE[:TOKEN]",
            description = {"Load a textual-inversion embedding (.safetensors, A1111 or diffusers layout) whose TOKEN (default:",
                    "the file's name without .safetensors) may then be used in --prompt and --negative-prompt (repeatable)."})
    List<String> embeddingOptions = new ArrayList<>();

    @Mixin
    SamplingFlags sampling = new SamplingFlags();

    @Mixin
    HiresFlags hiresFlags = new HiresFlags();

    @Mixin
    PromptBlendFlags blending = new PromptBlendFlags();

    @Mixin
    TraceFlags tracing = new TraceFlags();

    @Option(names = "--output", defaultValue = "ldm4j.png", paramLabel = "FILE.png",
            description = "Where to write the image; with --batch N > 1, FILE-0.png ... FILE-(N-1).png (default: ${DEFAULT-VALUE}).")
    Path output;

    @Option(names = "--overwrite", description = "Replace --output (and --save-latents) if they exist.")
    boolean overwrite;

    @Option(names = "--profile", description = "After the run, print time per op (calls, seconds, share, GFLOP/s) to stderr.")
    boolean profile;

    @Option(names = "--profile-shapes", description = "As --profile, one row per op and operand shapes (which shapes the model runs, how often).")
    boolean profileShapes;

    @Option(names = "--save-latents", paramLabel = "FILE.safetensors", description = "Also write the final latents [B, 4, h, w] (tensor 'latents').")
    Path saveLatents;

    /** The largest --guidance taken: far above any useful value, far below float32 overflow of the guided difference. */
    private static final double MAX_GUIDANCE = 10_000;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        String pngModelHash = fromPng == null ? null : applyFromPng(err);
        prompt = blending.prompt(prompt);
        if (prompt == null) {
            throw new Main.UserError("--prompt is required");
        }
        PromptStyle style = promptStyle == null ? PromptStyle.DIFFUSERS : PromptStyle.byLabel(promptStyle);
        if (style == null) {
            throw new Main.UserError("--prompt-style must be diffusers or a1111, got '" + promptStyle + "'");
        }
        model = BuiltinModels.resolve(model);
        applyModelDefaults(GenerationDefaults.of(model));
        validate();
        loras = AddonOptions.loras(loraOptions);
        embeddings = AddonOptions.embeddings(embeddingOptions);
        sampling.check(given("--steps"), latentConsistency);
        PromptBlend blend = blending.check(batch, saveLatents != null);
        tracing.check(overwrite, blending.interpolating());
        hiresFlags.check(image != null, latentConsistency, sampling.options().schedule() != null, tracing.trace != null,
                blending.interpolating());
        HiresFix hires = hiresFlags.hires();
        steps = sampling.steps(steps);
        sampling.checkRestart(scheduler, churns(), hires == null || hires.steps() == 0 ? steps : Math.min(steps, hires.steps()));
        Map<String, String> withThreshold = new LinkedHashMap<>(sampling.thresholdOptions());
        withThreshold.putAll(schedulerOptions);
        schedulerOptions = withThreshold;
        List<Path> outputs = outputFiles();
        RgbImage init = image == null ? null : readInitImage(image);
        InpaintMask inpaintMask = mask == null ? null : readMask(init);
        long s = seed != null ? seed : ThreadLocalRandom.current().nextLong(0, 1L << 53);
        GenerationRequest request = new GenerationRequest(prompt, negativePrompt, steps, guidance, width, height, batch, s,
                scheduler, karras, clipSkip, init, strength, style, inpaintMask);

        long loadStart = System.nanoTime();
        Map<String, String> backendOptions = dtype == null || device.equals("cpu") ? Map.of() : Map.of("dtype", dtype);
        Backend created = Backends.create(device, backendOptions);
        try (Backend backend = profile || profileShapes ? new ProfilingBackend(created, profileShapes) : created;
             Backend vaeOwn = vaeDtype == null ? null : profiled(Backends.create(device, Map.of("dtype", vaeDtype)));
             StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model, config, tokenizer, prediction, backend,
                     vaeOwn == null ? backend : vaeOwn, loras, embeddings)) {
            AddonOptions.report(pipe.addons(), err);
            useVae(pipe, vaeOwn == null ? backend : vaeOwn, err);
            err.printf(Locale.ROOT, "ldm4j: loaded %s (%s, %s) on %s in %.1f s; seed %d%n", model, pipe.spec().family(), pipe.spec().layout(),
                    backend.name(), seconds(System.nanoTime() - loadStart), s);
            int[] firstSize = pipe.outputSize(request);               // {W, H}: the pipeline decides and checks it
            int[] size = pipe.outputSize(request, hires);             // the image's: the hires fix's second pass, or the same
            if (backend.device() == dev.ldm4j.tensor.Device.CPU && !vaeTiling && !tinyVae()) {
                Runtime rt = Runtime.getRuntime();
                vaeTiling = decodeNeedsTiles(pipe.spec().vae(), size[0], size[1], rt.maxMemory() - (rt.totalMemory() - rt.freeMemory()), err);
            }
            pipe.setVaeTiling(vaeTiling);
            if (scheduler == null) {
                scheduler = pipe.defaultSchedulerName();            // null: the model's own; lcm for an LCM U-Net
            }
            pipe.setStepRecording(cudaGraph);
            if (style == PromptStyle.DIFFUSERS) {
                warnIfTruncated(pipe.tokenizer().encode(prompt), "prompt", err);
                warnIfTruncated(pipe.tokenizer().encode(negativePrompt), "negative prompt", err);
            }
            String modelHash = ModelHash.shortHash(model);
            warmUp(pipe, backend, firstSize, err);
            if (pngModelHash != null && !pngModelHash.equals(modelHash)) {
                err.println("ldm4j: warning: " + fromPng + " was made with a model of hash " + pngModelHash + "; " + model
                        + " has hash " + modelHash + ", so the image will differ");
            }
            Scheduler own = scheduler(pipe);
            sampling.checkScheduler(own);
            Scheduler chosen = sampling.withRestart(own);            // --restart: restart sampling around it
            if (hires != null) {
                err.printf(Locale.ROOT, "ldm4j: hires fix: %dx%d, then %dx%d (%s upscale, strength %s)%n", firstSize[0], firstSize[1],
                        size[0], size[1], hires.upscale().label(), hires.strength());
            }
            tracing.attach(pipe, prompt);
            GenerationResult result = blending.interpolating()
                    ? blending.interpolate(b -> pipe.generate(request, sampling.options().withPromptBlend(b), chosen, noise(s), new Progress(err)))
                    : hires != null
                    ? pipe.generateHires(request, hires, sampling.options().withPromptBlend(blend), chosen, noise(s), new Progress(err))
                    : pipe.generate(request, sampling.options().withPromptBlend(blend), chosen, noise(s), tracing.listener(new Progress(err), batch));
            tracing.write(result.latents(), pipe.spec().unet().inChannels(), result.images().get(0), chosen, overwrite, err);
            for (int i = 0; i < outputs.size(); i++) {
                int index = keepOnly >= 0 ? keepOnly : i;
                Map<String, String> more = new LinkedHashMap<>(hiresFlags.infotextFields());
                more.putAll(blending.infotextFields());
                Map<String, String> text = Map.of(GenerationSettings.KEY,
                        sampling.addTo(settings(pipe, style, s, firstSize, init != null, index, modelHash).toInfotext(version()), withVae(more)).format());
                PngFiles.write(result.images().get(index), outputs.get(i), overwrite, text);
                err.println("ldm4j: wrote " + outputs.get(i));
            }
            if (saveLatents != null) {
                int f = pipe.vae().downFactor();
                Tensor latents = Tensor.of(result.latents(), batch, pipe.spec().unet().inChannels(), size[1] / f, size[0] / f);
                SafetensorsWriter.write(saveLatents, Map.of("latents", latents), Map.of("seed", Long.toString(s)), null, overwrite);
                err.println("ldm4j: wrote " + saveLatents);
            }
            if (pipe.recordingStatus() != null) {
                err.println("ldm4j: " + pipe.recordingStatus());
            }
            GenerationResult.Timings t = result.timings();
            int n = t.stepNanos().length;
            err.printf(Locale.ROOT, "ldm4j: text encoding %.2f s, %sdenoising %.1f s (%d steps, %.2f s/step), decoding %.1f s, total %.1f s; %s%n",
                    seconds(t.textEncodingNanos()),
                    init == null ? "" : String.format(Locale.ROOT, "image encoding %.1f s, ", seconds(t.imageEncodingNanos())),
                    seconds(t.totalStepNanos()), n, n == 0 ? 0 : seconds(t.totalStepNanos()) / n, seconds(t.decodingNanos()),
                    seconds(t.totalNanos()), Memory.peakSummary(backend.peakDeviceMemoryBytes()));
            if (backend instanceof ProfilingBackend p) {
                err.print(p.report());
                if (vaeOwn instanceof ProfilingBackend v) {
                    err.println("VAE (--vae-dtype " + vaeDtype + "):");
                    err.print(v.report());
                }
                err.flush();
            }
        }
        return 0;
    }

    /** What --vae names (its folder, class and config), checked before the model loads; null without --vae. */
    private VaeFolder.Found vaeFound;

    /** --vae DIR, found and checked (one line naming the folder when it is no autoencoder ldm4j can use). */
    private void findVae() {
        if (vae == null) {
            return;
        }
        try {
            vaeFound = VaeFolder.find(vae);
        } catch (WeightException e) {
            throw new Main.UserError("--vae " + e.getMessage());
        }
        if (vaeTiling && tinyVae()) {
            throw new Main.UserError("--vae-tiling tiles an AutoencoderKL's decode; --vae " + vae + " is an AutoencoderTiny, which decodes"
                    + " whole in little memory: leave out --vae-tiling");
        }
    }

    private boolean tinyVae() {
        return vaeFound != null && vaeFound.className().equals("AutoencoderTiny");
    }

    /** Loads --vae onto vaeBackend and gives it to the pipeline (which refuses latents that are not its U-Net's); says so on err. */
    private void useVae(StableDiffusionPipeline pipe, Backend vaeBackend, PrintWriter err) {
        if (vaeFound == null) {
            return;
        }
        VaeFolder folder = VaeFolder.open(vae, vaeBackend);
        try {
            pipe.setVae(folder);
        } catch (RuntimeException e) {
            folder.close();
            throw e;
        }
        err.println("ldm4j: decoding with the " + vaeFound.className() + " of " + folder.path());
        if (tracing.trace != null && tinyVae()) {
            tracing.decodeWith((x0, shape) -> dev.ldm4j.diffusion.pipeline.DiffusionModel.of(pipe).decode(x0, shape).get(0));
        }
    }

    /** The PNG's extra fields, with "VAE" (as the web UI writes it: the name of what was given) when --vae was given. */
    private Map<String, String> withVae(Map<String, String> fields) {
        if (vae == null) {
            return fields;
        }
        Map<String, String> out = new LinkedHashMap<>(fields);
        out.put("VAE", vaeName());
        return out;
    }

    /** --vae's name as the PNG records it: the name of the folder given. */
    private String vaeName() {
        Path p = vae.toAbsolutePath().normalize();
        return p.getFileName() == null ? p.toString() : p.getFileName().toString();
    }

    /** --lora and --embedding, read and checked before the model loads. */
    private List<ModelAddons.Lora> loras = List.of();
    private List<ModelAddons.Embedding> embeddings = List.of();

    /** With --from-png and a batch in the file (and no --batch): which image of the batch to write, else -1. */
    private int keepOnly = -1;

    /**
     * --from-png: every setting the file holds that the command line does not give. Returns the file's
     * model hash (null when it has none) for a check once the model is known.
     */
    private String applyFromPng(PrintWriter err) {
        String text = PngMetadata.read(fromPng).text().get(GenerationSettings.KEY);
        if (text == null) {
            throw new Main.UserError(fromPng + " holds no generation parameters (no '" + GenerationSettings.KEY
                    + "' text chunk); ./ldm4j info " + fromPng + " shows what it holds");
        }
        Infotext parsed = Infotext.parse(text);
        GenerationSettings s = GenerationSettings.fromInfotext(parsed, fromPng.toString());
        List<String> ignored = s.ignored().stream()
                .filter(k -> !SamplingFlags.INFOTEXT_KEYS.contains(k) && !PromptBlendFlags.INFOTEXT_KEYS.contains(k)
                        && !(HiresFlags.INFOTEXT_KEYS.contains(k) && parsed.fields().containsKey("Hires upscale"))
                        && !k.equals("VAE")).toList();
        if (!ignored.isEmpty()) {
            err.println("ldm4j: warning: " + fromPng + ": ignored, ldm4j has no such setting: " + String.join(", ", ignored));
        }
        String pngVae = parsed.fields().get("VAE");
        if (pngVae != null && !given("--vae")) {
            err.println("ldm4j: warning: " + fromPng + " was decoded with the VAE '" + pngVae + "', of which it holds only the name;"
                    + " without --vae DIR the model's own VAE decodes, and the image may differ");
        }
        if (s.loras() != null && !given("--lora")) {
            throw new Main.UserError(fromPng + " was made with the LoRA " + s.loras() + ", of which it holds only the name;"
                    + " pass the file with --lora FILE[:SCALE]");
        }
        if (s.embeddings() != null && !given("--embedding")) {
            throw new Main.UserError(fromPng + " was made with the embeddings " + s.embeddings() + ", of which it holds only the names;"
                    + " pass the files with --embedding FILE[:TOKEN]");
        }
        sampling.readFrom(parsed.fields(), this::given);
        hiresFlags.readFrom(parsed.fields(), this::given, fromPng.toString());
        blending.readFrom(parsed.fields(), this::given);
        if (!given("--prompt")) {
            prompt = s.prompt();
        }
        if (!given("--negative-prompt")) {
            negativePrompt = s.negativePrompt();
        }
        if (!given("--steps") && s.steps() != null) {
            stepsOption = s.steps();
        }
        if (!given("--guidance") && s.guidance() != null) {
            guidanceOption = s.guidance();
        }
        if (!given("--scheduler") && !given("--karras")) {
            if (s.samplerProblem() != null) {
                throw new Main.UserError(fromPng + ": " + s.samplerProblem() + "; choose one with --scheduler NAME");
            }
            scheduler = s.scheduler();
            karras = s.karras();
            Map<String, String> options = new LinkedHashMap<>(s.schedulerOptions());
            options.putAll(schedulerOptions);                       // the command line's on top
            schedulerOptions = options;
        }
        if (!given("--seed") && s.seed() != null) {
            seed = s.seed();
        }
        if (image == null && !given("--width") && !given("--height") && s.width() != null) {
            width = s.width();
            height = s.height();
        }
        if (s.strength() != null) {
            if (image == null) {
                throw new Main.UserError(fromPng + " was made by image-to-image (strength " + s.strength()
                        + ") from a starting image it does not hold; pass that image with --image FILE");
            }
            if (!given("--strength")) {
                strength = s.strength();
            }
        }
        if (!given("--noise-dtype")) {
            noiseDtype = s.noiseDtype() == null ? "float32" : s.noiseDtype();
        }
        if (!given("--generator")) {
            generator = s.generator();
        }
        if (!given("--clip-skip") && s.clipSkip() != null) {
            clipSkip = s.clipSkip();
        }
        if (!given("--prompt-style")) {
            promptStyle = s.promptStyle();
        }
        if (!given("--prediction") && s.prediction() != null) {
            prediction = s.prediction();
        }
        if (!given("--device") && s.device() != null) {
            device = s.device();
        }
        if (!given("--dtype") && s.dtype() != null) {
            dtype = s.dtype();
        }
        if (!given("--vae-dtype") && s.vaeDtype() != null) {
            vaeDtype = s.vaeDtype();
        }
        if (!given("--batch") && s.batchSize() > 1) {
            batch = s.batchSize();
            keepOnly = s.batchIndex();
        }
        if (model == null) {
            model = modelNamedIn(s);
        }
        return s.modelHash();
    }

    /** The model a PNG names: a file or folder of that name (with or without .safetensors), or a built-in model. */
    private Path modelNamedIn(GenerationSettings s) {
        String name = s.modelName();
        if (name == null) {
            throw new Main.UserError(fromPng + " does not name its model; pass --model PATH");
        }
        for (String candidate : List.of(name, name + ".safetensors")) {
            try {
                Path p = BuiltinModels.resolve(Path.of(candidate));
                if (Files.isDirectory(p) || Files.isRegularFile(p) && p.toString().endsWith(".safetensors")) {
                    return p;
                }
            } catch (java.nio.file.InvalidPathException notAPath) {
                break;
            }
        }
        throw new Main.UserError(fromPng + " was made with the model '" + name + "'" + (s.modelHash() == null ? "" : " (hash " + s.modelHash() + ")")
                + ", which is no file, folder or built-in model here; pass --model PATH");
    }

    /** The settings of image index of this run, as written into its PNG. */
    private GenerationSettings settings(StableDiffusionPipeline pipe, PromptStyle style, long s, int[] size, boolean imageToImage,
                                        int index, String modelHash) {
        String ownClass = scheduler == null ? String.valueOf(pipe.spec().schedulerConfig().get("_class_name")) : null;
        return new GenerationSettings(prompt, negativePrompt, steps, guidance, scheduler, karras, ownClass, null, schedulerOptions,
                s, size[0], size[1], noiseDtype, generator, clipSkip, style.label(), imageToImage ? strength : null, prediction,
                device, dtype, vaeDtype, batch, index, ModelHash.name(model), modelHash,
                AddonOptions.describeLoras(loras), AddonOptions.describeEmbeddings(embeddings), List.of());
    }

    /** "ldm4j VERSION" for the parameters' Version key. */
    private static String version() {
        String v = GenerateCommand.class.getPackage().getImplementationVersion();
        return "ldm4j " + (v == null ? "dev" : v);
    }

    /** Whether --model is an LCM-distilled diffusers folder (its U-Net has time_cond_proj_dim). */
    private boolean latentConsistency;

    /**
     * Steps, guidance and sampler: the flag when given, else the model folder's own defaults, else diffusers'
     * (StableDiffusionPipeline's 50 steps and 7.5, LatentConsistencyModelPipeline's 4 and 8.5 for an LCM U-Net).
     */
    private void applyModelDefaults(Map<String, Object> d) {
        latentConsistency = ModelDiscovery.hasGuidanceEmbedding(model);
        steps = GenerationDefaults.steps(d, stepsOption, latentConsistency);
        guidance = GenerationDefaults.guidance(d, guidanceOption, latentConsistency);
        GenerationDefaults.SchedulerChoice chosen = GenerationDefaults.scheduler(d, scheduler, karras);
        scheduler = chosen.name();
        karras = chosen.karras();
    }

    /** Whether --scheduler-option s_churn asks for Euler's churn (a value other than 0). */
    private boolean churns() {
        String v = schedulerOptions.get("s_churn");
        try {
            return v != null && Double.parseDouble(v.strip()) != 0;
        } catch (NumberFormatException notANumber) {
            return false;                                             // refused by the scheduler as not a number
        }
    }

    /** Whether the command line named this option (an int option's 0 may otherwise be its default). */
    private boolean given(String option) {
        return spec.commandLine().getParseResult() != null && spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    /** --mask as an InpaintMask of the init image's size (Images.readMask), or one line saying what is wrong. */
    private InpaintMask readMask(RgbImage init) {
        InpaintMask m;
        try {
            m = Images.readMask(mask);
        } catch (NoClassDefFoundError e) {
            throw new Main.UserError("--mask needs a Java runtime with the java.desktop module (ImageIO) to read " + mask);
        }
        if (m.width() != init.width() || m.height() != init.height()) {
            throw new Main.UserError("--mask " + mask + " is " + m.width() + "x" + m.height() + " and --image " + image + " is "
                    + init.width() + "x" + init.height() + "; they must be the same size");
        }
        return m;
    }

    /** Images.readRgb, or one line saying so where the Java runtime has no image decoders (no desktop module). */
    private static RgbImage readInitImage(Path file) {
        try {
            return Images.readRgb(file);
        } catch (NoClassDefFoundError e) {
            throw new Main.UserError("--image needs a Java runtime with the java.desktop module (ImageIO) to read " + file);
        }
    }

    /**
     * On the CPU, StableDiffusionPipeline.warmUp before the first step (it decides from the image size whether to run,
     * and says so on stderr when it does). A profile counts the generation only: what the warm-up ran is forgotten.
     * -Dldm4j.warmup=false leaves the warm-up out.
     */
    private static void warmUp(StableDiffusionPipeline pipe, Backend backend, int[] size, PrintWriter err) {
        if (backend.device() != dev.ldm4j.tensor.Device.CPU || "false".equalsIgnoreCase(System.getProperty("ldm4j.warmup"))) {
            return;
        }
        long t0 = System.nanoTime();
        if (pipe.warmUp(size[0], size[1])) {
            if (backend instanceof ProfilingBackend p) {
                p.reset();
            }
            err.printf(Locale.ROOT, "ldm4j: warm-up %.2f s%n", seconds(System.nanoTime() - t0));
        }
    }

    private Backend profiled(Backend b) {
        return profile || profileShapes ? new ProfilingBackend(b, profileShapes) : b;
    }

    /**
     * Whether a CPU run's VAE decode must be tiled to fit in the heap, said on err when so; refuses, before any step
     * runs, a run that would not fit even tiled. The decoder's last level keeps a few feature maps of
     * blockOutChannels[0] channels at full image size alive: estimate 7 such maps plus 0.5 GB (calibrated on SD 1.5 at
     * 512x512, which fits in 1.5 GB, and SD 2.1 at 768x768, which fails in 1.5 GB and fits in 3 GB), against the heap
     * not in use now. Tiled, the maps are a tile's (VaeTiling.sampleTile), plus the whole image three times (the
     * decoded samples, the image, the PNG's bytes). {@code have}: the free heap in bytes.
     */
    static boolean decodeNeedsTiles(VaeConfig vae, int w, int h, long have, PrintWriter err) {
        long channels = vae.blockOutChannels().get(0);
        long need = 7 * 4 * channels * w * h + (512L << 20);
        if (need <= have) {
            return false;
        }
        int f = vae.downFactor();
        long tile = VaeTiling.sampleTile(vae);
        long tiledNeed = 7 * 4 * channels * Math.min(tile, w) * Math.min(tile, h) + (512L << 20) + 3 * 12L * w * h;
        if (!VaeTiling.decodesTiled(vae, h / f, w / f) || tiledNeed > have) {
            long gb = (need + (1L << 30) - 1) >> 30;
            throw new Main.UserError(String.format(Locale.ROOT,
                    "decoding %dx%d needs about %.1f GB of Java heap and this run has %.1f GB free; raise it with LDM4J_HEAP=%dg",
                    w, h, need / 1e9, have / 1e9, gb));
        }
        err.printf(Locale.ROOT, "ldm4j: decoding %dx%d whole needs about %.1f GB of Java heap and %.1f GB is free: VAE tiling is on"
                + " (tiles of %d pixels, as --vae-tiling)%n", w, h, need / 1e9, have / 1e9, tile);
        return true;
    }

    /** The generator the seed feeds, in the order diffusers draws. */
    private NoiseSource noise(long s) {
        if (generator.equals("cuda")) {
            return new TorchCudaGenerator(s);
        }
        return new TorchGenerator(s, noiseDtype.equals("float64") ? TorchGenerator.Precision.FLOAT64 : TorchGenerator.Precision.FLOAT32);
    }

    /** The chosen scheduler, as the pipeline builds it (StableDiffusionPipeline.scheduler) with --scheduler-option on top. */
    private Scheduler scheduler(StableDiffusionPipeline pipe) {
        Map<String, Object> options = new java.util.LinkedHashMap<>();
        schedulerOptions.forEach((k, v) -> options.put(k, optionValue(k, v)));
        try {
            return pipe.scheduler(scheduler, karras, options);  // each option takes effect or is refused
        } catch (SchedulerOptionException e) {
            Main.UserError threshold = sampling.thresholdRefusal(e);
            if (threshold != null) {
                throw threshold;
            }
            throw new Main.UserError("--scheduler-option " + e.getMessage());
        }
    }

    /** A --scheduler-option value as JSON would give it: true/false, a number, or else the text. */
    private static Object optionValue(String key, String text) {
        if (text.equals("true") || text.equals("false")) {
            return Boolean.parseBoolean(text);
        }
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException notLong) {
            try {
                return Double.parseDouble(text);
            } catch (NumberFormatException notDouble) {
                if (text.isEmpty()) {
                    throw new Main.UserError("--scheduler-option " + key + " has no value");
                }
                return text;
            }
        }
    }

    private void validate() {
        if (steps < 1) {
            throw new Main.UserError("--steps must be at least 1, got " + steps);
        }
        if (width < 0 || height < 0 || width % 8 != 0 || height % 8 != 0 || given("--width") && width == 0 || given("--height") && height == 0) {
            throw new Main.UserError("--width and --height must be positive multiples of 8 (leave them out for the model's size), got "
                    + width + "x" + height);
        }
        if (image != null && (width != 0 || height != 0)) {
            throw new Main.UserError("--width/--height do not apply with --image: the output has the init image's size");
        }
        if (batch < 1) {
            throw new Main.UserError("--batch must be at least 1, got " + batch);
        }
        if (!(guidance >= 0 && guidance <= MAX_GUIDANCE)) {
            throw new Main.UserError("--guidance must be from 0 to " + (int) MAX_GUIDANCE + " (usual values are 1 to 15), got " + guidance);
        }
        if (!(strength > 0 && strength <= 1)) {
            throw new Main.UserError("--strength must be in (0, 1], got " + strength);
        }
        if (latentConsistency && !negativePrompt.isEmpty()) {
            throw new Main.UserError(model + " has an LCM-distilled U-Net (time_cond_proj_dim), which runs without an unconditional pass:"
                    + " --negative-prompt has no effect there (diffusers' LatentConsistencyModelPipeline takes none); leave it out");
        }
        if (latentConsistency && image != null) {
            throw new Main.UserError("--image: image-to-image with an LCM-distilled U-Net (" + model + ") is not supported yet");
        }
        if (image == null && given("--strength")) {
            throw new Main.UserError("--strength applies to image-to-image and inpainting only: give --image FILE, or leave --strength out");
        }
        if (mask != null && image == null) {
            throw new Main.UserError("--mask " + mask + " needs the image it masks: give --image FILE");
        }
        if (mask != null && !given("--strength") && fromPng == null) {
            strength = 1.0;                                           // StableDiffusionInpaintPipeline's default
        }
        for (var o : schedulerOptions.entrySet()) {
            if (o.getKey().isBlank()) {
                throw new Main.UserError("--scheduler-option '" + o.getKey() + "=" + o.getValue() + "' has no key; write KEY=VALUE, e.g. eta=0.5");
            }
        }
        if (clipSkip < 0) {
            throw new Main.UserError("--clip-skip must be 0 or more, got " + clipSkip);
        }
        if (scheduler != null && !Schedulers.names().contains(scheduler)) {
            throw new Main.UserError("unknown scheduler '" + scheduler + "'; valid names: " + String.join(" ", Schedulers.names()));
        }
        if (karras && scheduler == null) {
            throw new Main.UserError("--karras needs --scheduler (e.g. --scheduler dpmpp_2m --karras)");
        }
        if (prediction != null && !List.of("eps", "epsilon", "v", "v_prediction").contains(prediction)) {
            throw new Main.UserError("--prediction must be eps or v, got '" + prediction + "'");
        }
        if (!noiseDtype.equals("float32") && !noiseDtype.equals("float64")) {
            throw new Main.UserError("--noise-dtype must be float32 or float64, got '" + noiseDtype + "'");
        }
        if (dtype != null && !List.of("fp32", "fp16", "bf16").contains(dtype)) {
            throw new Main.UserError("--dtype must be fp32, fp16 or bf16, got '" + dtype + "'");
        }
        if (cudaGraph && !device.equals("cuda")) {
            throw new Main.UserError("--cuda-graph needs --device cuda");
        }
        if (cudaGraph && (profile || profileShapes)) {
            throw new Main.UserError("--profile times ops one by one; it cannot be combined with --cuda-graph");
        }
        if (dtype != null && !dtype.equals("fp32") && !device.equals("cuda")) {
            throw new Main.UserError("--dtype " + dtype + " needs --device cuda; the CPU backend computes in fp32");
        }
        if (vaeDtype != null && !List.of("fp32", "fp16", "bf16").contains(vaeDtype)) {
            throw new Main.UserError("--vae-dtype must be fp32, fp16 or bf16, got '" + vaeDtype + "'");
        }
        if (vaeDtype != null && !device.equals("cuda")) {
            throw new Main.UserError("--vae-dtype needs --device cuda; the CPU backend computes in fp32");
        }
        if (!generator.equals("cpu") && !generator.equals("cuda")) {
            throw new Main.UserError("--generator must be cpu or cuda, got '" + generator + "'");
        }
        if (generator.equals("cuda") && noiseDtype.equals("float64")) {
            throw new Main.UserError("--generator cuda draws float32 only; drop --noise-dtype float64");
        }
        if (!Files.exists(model)) {
            throw new Main.UserError(model + ": no such file or directory");
        }
        if (!output.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
            throw new Main.UserError("--output must name a .png file, got " + output);
        }
        findVae();
    }

    /** The files to write, checked now (new or replaceable, writable, distinct) so that a long run never ends on a write error. */
    private List<Path> outputFiles() {
        List<Path> files = new ArrayList<>();
        if (batch == 1 || keepOnly >= 0) {
            files.add(output);
        } else {
            String name = output.getFileName().toString();
            String stem = name.substring(0, name.length() - 4);
            for (int i = 0; i < batch; i++) {
                files.add(output.resolveSibling(stem + "-" + i + ".png"));
            }
        }
        for (Path f : files) {
            OutputFiles.checkWritable(f, "--output", overwrite);
        }
        if (saveLatents != null) {
            OutputFiles.checkWritable(saveLatents, "--save-latents", overwrite);
            for (Path f : files) {
                OutputFiles.checkDistinct(f, "--output", saveLatents, "--save-latents");
            }
        }
        return files;
    }

    private static void warnIfTruncated(ClipEncoding enc, String what, PrintWriter err) {
        if (enc.truncated()) {
            err.println("ldm4j: warning: the " + what + " has " + enc.tokenCount() + " tokens and the text encoder takes 75: the last "
                    + enc.droppedTokenCount() + " were dropped (--prompt-style a1111 reads long prompts)");
        }
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    /** One stderr line per step: step time, mean so far (of this pass), and the estimated time left. */
    private static final class Progress implements dev.ldm4j.diffusion.pipeline.StepListener {
        private final PrintWriter err;
        private long total;

        Progress(PrintWriter err) {
            this.err = err;
        }

        @Override
        public void onStep(int step, int steps, double timestep, float[] latents, long nanos) {
            total = step == 1 ? nanos : total + nanos;                // a new pass (the hires fix's second) starts its own mean
            double mean = total / 1e9 / step;
            err.printf(Locale.ROOT, "step %d/%d  t=%.0f  %.2f s  (mean %.2f s/step, ETA %.0f s)%n",
                    step, steps, timestep, nanos / 1e9, mean, mean * (steps - step));
        }
    }
}
