// Stable Diffusion text-to-image and image-to-image (Rombach et al. 2022, "High-Resolution Image
// Synthesis with Latent Diffusion Models"), step for step as diffusers' StableDiffusionPipeline and
// StableDiffusionImg2ImgPipeline run it, so that the same prompt, settings and noise give the same
// image. generate() is the whole sampling loop in one method: encode the prompt, draw the starting
// latents, then for each timestep scale the input, run the U-Net on the [uncond, cond] batch, apply
// classifier-free guidance (Ho & Salimans 2022; Guidance, with its rescale and interval from SamplingOptions)
// and take a scheduler step; finally decode.
// With a mask it runs as diffusers' StableDiffusionInpaintPipeline: an inpainting U-Net (9 input channels)
// is given the mask and the masked image's latents beside the latents at every step; an ordinary U-Net
// (4 channels) denoises the whole latent and the kept region is put back, noised to the next step's level,
// after every step.
// A U-Net with time_cond_proj_dim (LCM-distilled, Luo et al. 2023) runs as diffusers'
// LatentConsistencyModelPipeline: no unconditional batch, one U-Net pass per step, the guidance scale
// fed to the U-Net through GuidanceScaleEmbedding (w = guidance - 1), the LCM scheduler by default.
// generateHires is the hires fix (HiresFix): the same loop twice, the second pass image-to-image from the first's
// upscaled latents at the larger size.
// The autoencoder is the model's VAE unless setVae gives another (VaeFolder: a fine-tuned AutoencoderKL, or
// TAESD, AutoencoderTiny, whose encoder gives latents without a draw, as diffusers' retrieve_latents takes them).
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.model.MissingTokenizerException;
import dev.ldm4j.diffusion.model.ModelAddons;
import dev.ldm4j.diffusion.model.ModelDiscovery;
import dev.ldm4j.diffusion.model.StableDiffusionModel;
import dev.ldm4j.diffusion.model.StableDiffusionModelSpec;
import dev.ldm4j.diffusion.random.NoiseSource;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.Scheduler;
import dev.ldm4j.diffusion.schedulers.SchedulerOptions;
import dev.ldm4j.diffusion.schedulers.Schedulers;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.diffusion.model.ModelException;
import dev.ldm4j.diffusion.vae.Autoencoder;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.diffusion.vae.AutoencoderTiny;
import dev.ldm4j.diffusion.vae.DiagonalGaussianDistribution;
import dev.ldm4j.diffusion.vae.VaeFolder;
import dev.ldm4j.diffusion.vae.VaeTiling;
import dev.ldm4j.nn.LayerNorm;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class StableDiffusionPipeline implements AutoCloseable {
    private final StableDiffusionModel model;
    private final StableDiffusionModelSpec spec;
    private final Backend backend;
    private final ClipTokenizer tokenizer;
    private final PromptEncoder promptEncoder;
    private final UNet2DConditionModel unet;
    private Autoencoder vae;
    private Backend vaeBackend;
    private VaeFolder vaeFolder;
    private ModelAddons.Applied addons;
    private boolean recordSteps;
    private String recordingStatus;
    private boolean vaeTiling;
    private boolean releaseWeightPages = true;
    private CrossAttentionListener attentionListener;

    /** A pipeline over a loaded model (which it closes on close()); backend is the one the model was loaded on. */
    public StableDiffusionPipeline(StableDiffusionModel model, Backend backend) {
        this.model = model;
        this.spec = model.spec();
        this.backend = backend;
        if (model.tokenizer() == null) {
            throw new MissingTokenizerException(spec.path());
        }
        this.tokenizer = model.tokenizer();
        LayerNorm textFinalLayerNorm = new LayerNorm(Params.root(spec.textEncoderWeights(), backend).child("text_model").child("final_layer_norm"),
                spec.textEncoder().hiddenSize(), (float) spec.textEncoder().layerNormEps());
        this.promptEncoder = new PromptEncoder(tokenizer, model.textEncoder(), textFinalLayerNorm, backend);
        this.unet = model.unet();
        this.vae = model.vae();
        this.vaeBackend = model.vaeBackend();
        this.addons = new ModelAddons.Applied(spec, List.of(), List.of());
    }

    /**
     * Loads a model: a diffusers folder, or a single-file checkpoint (with configDir, a diffusers
     * folder giving configs and tokenizer, where the file's shapes do not settle them).
     *
     * @param prediction "epsilon"/"v_prediction" to override the model's prediction type, or null
     */
    public static StableDiffusionPipeline load(Path model, Path configDir, String prediction, Backend backend) {
        return load(model, configDir, null, prediction, backend);
    }

    /** Like load(model, configDir, prediction, backend), with the tokenizer taken from tokenizer when it is not null. */
    public static StableDiffusionPipeline load(Path model, Path configDir, Path tokenizer, String prediction, Backend backend) {
        return load(model, configDir, tokenizer, prediction, backend, backend);
    }

    /** Like load(model, configDir, tokenizer, prediction, backend), with the VAE on vaeBackend (same device, e.g. another precision). */
    public static StableDiffusionPipeline load(Path model, Path configDir, Path tokenizer, String prediction, Backend backend, Backend vaeBackend) {
        return load(model, configDir, tokenizer, prediction, backend, vaeBackend, List.of(), List.of());
    }

    /**
     * Like load(model, configDir, tokenizer, prediction, backend, vaeBackend), with LoRA files merged into
     * the weights and textual-inversion embeddings added to the text encoder and tokenizer (ModelAddons);
     * what they changed, and what of them was left out, is in addons().
     */
    public static StableDiffusionPipeline load(Path model, Path configDir, Path tokenizer, String prediction, Backend backend,
                                               Backend vaeBackend, List<ModelAddons.Lora> loras, List<ModelAddons.Embedding> embeddings) {
        StableDiffusionModelSpec found = ModelDiscovery.discover(model, configDir, prediction);
        StableDiffusionModelSpec spec = tokenizer == null ? found : found.withTokenizer(tokenizer);
        try {
            ModelAddons.Applied applied = ModelAddons.apply(spec, loras, embeddings);
            spec = applied.spec();
            StableDiffusionPipeline pipe = new StableDiffusionPipeline(StableDiffusionModel.load(spec, backend, vaeBackend), backend);
            pipe.addons = applied;
            return pipe;
        } catch (RuntimeException e) {
            spec.close();
            throw e;
        }
    }

    /** What the LoRA files and embeddings given to load changed (summary) and left out (warnings); empty lists for none. */
    public ModelAddons.Applied addons() {
        return addons;
    }

    /**
     * With on, generate() records the U-Net call of its first step (after time_proj) with
     * Backend.record (a CUDA graph on the GPU) and replays it for the later steps. The first replay is
     * compared with that step's op-by-op result; when recording is unavailable, fails or the replay
     * differs, the steps run op by op and recordingStatus() says why.
     */
    public void setStepRecording(boolean on) {
        this.recordSteps = on;
    }

    /**
     * With on, the VAE decodes (and encodes) in overlapping tiles blended linearly, as diffusers'
     * enable_vae_tiling (VaeTiling): peak memory of one tile whatever the image size, at the cost of small
     * differences from the whole-image decode. Latents no larger than one tile are decoded whole, and so is every
     * latent with an AutoencoderTiny (setVae), whose largest maps are a few 64-channel images.
     */
    public void setVaeTiling(boolean on) {
        this.vaeTiling = on;
    }

    /** Side of the zero latent warmUp runs the U-Net on (a multiple of 8: every SD U-Net's three halvings are exact). */
    static final int WARM_UP_SIDE = 16;

    /**
     * Before a generate of a width x height image on the CPU, for latents of 64 x 64 and more (SD's 512x512 and
     * larger): runs the U-Net once on a zero latent [1, in, 16, 16] with a zero context [1, 77, D], and three small 3x3
     * convolutions on a 64 x 64 map (the CPU's Winograd convolutions, which only such maps reach), and drops the
     * results. This makes the JIT compile the kernels, and maps the U-Net's weight pages, before step 1. Measured on
     * SD 1.5 at 512x512 (bench/WHOLE-RUN-RESULTS.md, 2026-12-03): step 1 cost 1.3-1.7 s more than step 2 without it and
     * 0.5 s more with it, the text encoding 0.4 s instead of 1.6-1.8 s; the warm-up itself 2.7-3.3 s, so a whole run
     * takes about 0.3 s longer (code compiled at the small shapes is compiled again at the large ones). At 256x256 the
     * same trade cost 1 s of a 20.5 s run, so smaller latents are not warmed up. The images are the same either way
     * (nothing is kept). Returns whether it ran.
     */
    public boolean warmUp(int width, int height) {
        long positions = (long) (height / vae.downFactor()) * (width / vae.downFactor());
        if (positions < 64 * 64) {
            return false;
        }
        var c = spec.unet();
        int side = WARM_UP_SIDE;
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = backend.toDevice(Tensor.of(new float[c.inChannels() * side * side], 1, c.inChannels(), side, side));
            Tensor context = backend.toDevice(Tensor.of(new float[77 * c.crossAttentionDim()], 1, 77, c.crossAttentionDim()));
            Tensor cond = c.timeCondProjDim() == null ? null
                    : backend.toDevice(Tensor.of(new float[c.timeCondProjDim()], 1, c.timeCondProjDim()));
            backend.toHost(unet.forwardProjected(x, unet.timeProjection(new float[] {500f}, 1), context, cond));
            // one Winograd convolution of each kind the U-Net calls: plain, + a time embedding [B, C, 1, 1], + a residual
            Tensor map = backend.toDevice(Tensor.of(new float[128 * 64 * 64], 1, 128, 64, 64));
            Tensor filter = backend.toDevice(Tensor.of(new float[128 * 128 * 9], 128, 128, 3, 3));
            Tensor bias = backend.toDevice(Tensor.of(new float[128], 128));
            backend.toHost(backend.conv2d(map, filter, bias, 1, 1));
            backend.toHost(backend.conv2dAdd(map, filter, bias, 1, 1, 1, 1, 1, backend.toDevice(Tensor.of(new float[128], 1, 128, 1, 1))));
            backend.toHost(backend.conv2dAdd(map, filter, bias, 1, 1, 1, 1, 1, map));
        }
        return true;
    }

    /**
     * With on (the default), generate() lets the operating system drop the memory-mapped pages of the text encoder's
     * weights once the prompt is encoded, and of the U-Net's before the VAE decodes (WeightSource.releasePages): a
     * 512x512 SD 1.5 run then never holds all three components' pages at once. A later generate() maps the pages it
     * reads again, from the page cache while it holds the file (minor page faults, no disk reads): about 0.3 s of a
     * 10.6 s 256x256 SD 1.5 generate measured (bench/WHOLE-RUN-RESULTS.md); a loop of generates may turn it off.
     */
    public void setReleaseWeightPages(boolean on) {
        this.releaseWeightPages = on;
    }

    /**
     * With a listener, generate() hands it every cross-attention layer's probabilities (softmax over the text tokens,
     * averaged over heads) of the conditional rows at every U-Net evaluation, for any scheduler; CrossAttentionHeatMaps
     * sums them into DAAM's per-token heat maps. They are computed beside the fused attention, only while a listener is
     * set (null: none, the default), and step recording is skipped while one is.
     */
    public void setCrossAttentionListener(CrossAttentionListener listener) {
        this.attentionListener = listener;
    }

    /**
     * Decode (and encode, where it has an encoder) with folder's autoencoder instead of the model's VAE from now on;
     * the pipeline closes the folder on close(). Its latents must be the U-Net's: the same channels, on the same device.
     *
     * @throws ModelException when its latent channels are not the U-Net's
     */
    public void setVae(VaeFolder folder) {
        Autoencoder other = folder.autoencoder();
        int unetLatents = spec.unet().outChannels();
        if (other.latentChannels() != unetLatents) {
            throw new ModelException(folder.path() + ": this " + other.className() + " has " + other.latentChannels()
                    + " latent channels and the model's U-Net " + unetLatents + "; it was made for another model family");
        }
        if (other.backend().device() != backend.device()) {
            throw new IllegalArgumentException("the autoencoder's backend (" + other.backend().name() + ") must be on the device of the"
                    + " other models (" + backend.name() + ")");
        }
        if (vaeFolder != null) {
            vaeFolder.close();
        }
        this.vaeFolder = folder;
        this.vae = other;
        this.vaeBackend = other.backend();
    }

    /** The autoencoder decode and image-to-image use: the model's VAE, or the one setVae gave. */
    public Autoencoder vae() {
        return vae;
    }

    /** What step recording did in the last generate() (null when it was off). */
    public String recordingStatus() {
        return recordingStatus;
    }

    public StableDiffusionModelSpec spec() {
        return spec;
    }

    public StableDiffusionModel model() {
        return model;
    }

    public ClipTokenizer tokenizer() {
        return tokenizer;
    }

    /** The backend the models run on (DiffusionModel's U-Net calls use it). */
    Backend backend() {
        return backend;
    }

    /** Step 1's text encoding, for DiffusionModel.condition. */
    PromptEncoder promptEncoder() {
        return promptEncoder;
    }

    /** The scheduler a request asks for (its scheduler name and karras), without options: scheduler(name, karras, Map.of()). */
    public Scheduler scheduler(String name, boolean karras) {
        return scheduler(name, karras, Map.of());
    }

    /**
     * The scheduler a run uses; the one place that decides and builds it (generate, eval and the Java API
     * all come here). name is a Schedulers name, or null for the model's default, defaultSchedulerName()
     * (lcm for an LCM U-Net, else the class the model's scheduler config names). The scheduler is built
     * from the model's scheduler config with options on top, as keyword arguments to diffusers'
     * from_config (config keys) or to its step (eta, s_churn, ...); each option takes effect or is refused.
     * Which name to ask for (a flag, the model folder's GenerationDefaults, a PNG's settings) is the caller's.
     *
     * @param options scheduler_config keys and step arguments, valued as JSON would give them (empty: none)
     * @throws dev.ldm4j.diffusion.schedulers.SchedulerOptionException naming an option that does not apply
     */
    public Scheduler scheduler(String name, boolean karras, Map<String, Object> options) {
        if (name == null) {
            name = defaultSchedulerName();
        }
        Map<String, Object> config = new LinkedHashMap<>(spec.schedulerConfig());
        config.putAll(options);
        Scheduler s;
        if (name == null) {
            s = Schedulers.fromClassName(String.valueOf(config.get("_class_name")), config);
            if (karras) {
                throw new UnsupportedRequestException(UnsupportedRequestException.Part.KARRAS,
                        "Karras sigmas need a scheduler named (e.g. euler or dpmpp_2m); the model's own (" + s.name() + ") is used as configured");
            }
        } else {
            s = Schedulers.create(name, config, karras);
        }
        return SchedulerOptions.apply(s, options);
    }

    /**
     * The scheduler a run without a named one uses, as a Schedulers name, or null for the model's own (the
     * class its scheduler config names). An LCM U-Net samples with lcm, built from the model's scheduler
     * config, unless that config is already LCM's or TCD's (an LCM download's is LCMScheduler).
     */
    public String defaultSchedulerName() {
        if (!spec.unet().hasGuidanceEmbedding()) {
            return null;
        }
        Object own = spec.schedulerConfig().get("_class_name");
        return "LCMScheduler".equals(own) || "TCDScheduler".equals(own) ? null : "lcm";
    }

    /** Runs a request with its scheduler and a torch.Generator("cpu") seeded with its seed (float32 draws). */
    public GenerationResult generate(GenerationRequest request, StepListener listener) {
        return generate(request, scheduler(request.scheduler(), request.karras()), new TorchGenerator(request.seed()), listener);
    }

    /**
     * The sampling loop. Noise is drawn from {@code noise} in diffusers' order: the starting latents
     * (image-to-image: the VAE posterior sample, then the noise added at the start step; inpainting: see
     * inpaintingStart), then whatever the scheduler draws at each step.
     */
    public GenerationResult generate(GenerationRequest request, Scheduler scheduler, NoiseSource noise, StepListener listener) {
        return generate(request, SamplingOptions.DEFAULT, scheduler, noise, listener);
    }

    /**
     * The sampling loop with the switches of options (guidance rescale, guidance interval, a custom schedule). With a
     * custom schedule the run takes its number of steps (request.steps() is not used).
     */
    public GenerationResult generate(GenerationRequest request, SamplingOptions options, Scheduler scheduler, NoiseSource noise,
                                     StepListener listener) {
        return sample(request, null, options, scheduler, noise, listener, true);
    }

    /**
     * The hires fix (HiresFix): the request run at its size, its result upscaled to hires.size, then denoised again
     * there as image-to-image at hires.strength over hires.steps (0: the request's) with the same prompt, guidance,
     * options, scheduler and generator; the result is the second pass's, with the time of both. Text-to-image only.
     */
    public GenerationResult generateHires(GenerationRequest request, HiresFix hires, SamplingOptions options, Scheduler scheduler,
                                          NoiseSource noise, StepListener listener) {
        if (request.isImageToImage()) {
            throw new UnsupportedRequestException(UnsupportedRequestException.Part.IMAGE_TO_IMAGE,
                    "the hires fix upscales a text-to-image run; it takes no init image");
        }
        if (spec.unet().hasGuidanceEmbedding()) {
            throw new UnsupportedRequestException(UnsupportedRequestException.Part.IMAGE_TO_IMAGE,
                    "the hires fix's second pass is image-to-image, not supported yet with an LCM-distilled U-Net (time_cond_proj_dim)");
        }
        int f = vae.downFactor();
        int batch = request.batchSize();
        int planes = batch * vae.latentChannels();
        int[] size = outputSize(request);                                                      // {W, H} of the first pass
        int[] target = outputSize(request, hires);                                             // {W', H'}
        boolean pixel = hires.upscale() == HiresFix.Upscale.PIXEL;

        // 1. The first pass at the request's size (decoded only for an upscale in pixels).
        GenerationResult low = sample(request, null, options, scheduler, noise, listener, pixel);

        // 2. Its latents at the new size: interpolated, or decoded, resized and encoded again (one draw per image, none with TAESD).
        long t0 = System.nanoTime();
        float[] init;                                                                          // [B, 4, H'/8, W'/8]
        if (pixel) {
            int per = planes / batch * (target[1] / f) * (target[0] / f);
            init = new float[batch * per];
            for (int b = 0; b < batch; b++) {
                RgbImage up = HiresFix.upscaleImage(low.images().get(b), target[0], target[1]);
                System.arraycopy(imageLatents(toChw(up), target[1], target[0], 1, noise), 0, init, b * per, per);
            }
        } else {
            init = hires.upscale().resize(low.latents(), planes, size[1] / f, size[0] / f, target[1] / f, target[0] / f);
        }
        long upscaleNanos = System.nanoTime() - t0;

        // 3. The second pass: image-to-image from those latents at the new size (sample's LatentStart).
        GenerationRequest second = request.withSize(target[0], target[1]).withStrength(hires.strength())
                .withSteps(hires.steps() == 0 ? request.steps() : hires.steps());
        GenerationResult high = sample(second, new LatentStart(init, target[0], target[1]), options, scheduler, noise, listener, true);

        GenerationResult.Timings a = low.timings();
        GenerationResult.Timings b = high.timings();
        long[] steps = java.util.Arrays.copyOf(a.stepNanos(), a.stepNanos().length + b.stepNanos().length);
        System.arraycopy(b.stepNanos(), 0, steps, a.stepNanos().length, b.stepNanos().length);
        return new GenerationResult(high.images(), high.latents(), high.prompt(), high.negative(), new GenerationResult.Timings(
                a.textEncodingNanos() + b.textEncodingNanos(), upscaleNanos, steps, a.decodingNanos() + b.decodingNanos()));
    }

    /** Latents to start image-to-image from in place of an init image: [B, 4, height/8, width/8] for an image of width x height. */
    private record LatentStart(float[] latents, int width, int height) {
    }

    /**
     * The sampling loop behind generate and generateHires: from the request's start (noise, its init image), or
     * with start from those latents as image-to-image at request.strength(); decodes the final latents when decode.
     */
    private GenerationResult sample(GenerationRequest request, LatentStart start, SamplingOptions options, Scheduler scheduler,
                                    NoiseSource noise, StepListener listener, boolean decode) {
        int batch = request.batchSize();
        int[] size = start == null ? outputSize(request) : new int[] {start.width(), start.height()}; // {W, H}, checked
        boolean embedded = spec.unet().hasGuidanceEmbedding();                                 // an LCM U-Net: guidance goes in as a condition
        checkSupported(request, options, embedded);
        boolean inpaintingUNet = spec.unet().isInpainting();                                  // 9 input channels
        if (inpaintingUNet && !request.isInpainting()) {
            throw new UnsupportedRequestException(UnsupportedRequestException.Part.INPAINTING_INPUTS,
                    "this is an inpainting U-Net (9 input channels): it repaints the masked part of an image and needs an image and a mask");
        }
        boolean guided = !embedded && request.guidanceScale() > 1.0;
        float guidance = (float) request.guidanceScale();

        // 1. Text conditioning: [uncond x B, cond x B] (or cond x B without guidance), each [77, D] (A1111 style: [77 k, D]).
        long t0 = System.nanoTime();
        PromptEncoder.Embeddings prompt = promptEncoder.encode(request.prompt(), request.negativePrompt(), batch, guided,
                request.clipSkip(), request.promptStyle());
        Tensor context = options.promptBlend() == null ? prompt.context()                         // [2B or B, L, D]
                : blendConditioning(prompt.context(), request, batch, guided, options.promptBlend());
        long textNanos = System.nanoTime() - t0;
        if (releaseWeightPages) {
            spec.textEncoderWeights().releasePages();
        }

        // LCM U-Net: the embedded guidance scale, w = guidance - 1 for every row, [B, time_cond_proj_dim].
        Tensor guidanceCond = embedded
                ? backend.toDevice(GuidanceScaleEmbedding.forGuidanceScale(request.guidanceScale(), batch, spec.unet().timeCondProjDim()))
                : null;

        // 2. Timesteps (from the step count, or as given), and the latents to start from.
        int steps = options.schedule() == null ? request.steps() : options.schedule().steps();
        if (options.schedule() == null) {
            scheduler.setTimesteps(steps);
        } else {
            options.schedule().applyTo(scheduler);
        }
        double[] timesteps = scheduler.timesteps();
        int[] shape = {batch, vae.latentChannels(), size[1] / vae.downFactor(), size[0] / vae.downFactor()};
        long t1 = System.nanoTime();
        int first;
        float[] latents;
        InpaintingStart inpainting = null;
        if (request.isInpainting()) {
            first = imageToImageStartIndex(scheduler, steps, request.strength(), timesteps.length);
            inpainting = inpaintingStart(request, shape, scheduler, first, noise, inpaintingUNet, guided);
            latents = inpainting.latents();                                                    // [B, 4, h, w]
        } else if (request.isImageToImage()) {
            first = imageToImageStartIndex(scheduler, steps, request.strength(), timesteps.length);
            latents = imageToImageLatents(request.initImage(), shape, scheduler, first, noise); // [B, 4, h, w]
        } else if (start != null) {
            first = imageToImageStartIndex(scheduler, steps, request.strength(), timesteps.length);
            latents = scheduler.addNoise(start.latents(), noise.randn(shape), first);          // [B, 4, h, w], as imageToImageLatents
        } else {
            first = 0;
            latents = scale(noise.randn(shape), (float) scheduler.initNoiseSigma());           // [B, 4, h, w]
        }
        long imageNanos = request.isImageToImage() ? System.nanoTime() - t1 : 0;

        // 3. Denoising (the U-Net call optionally recorded after the first step and replayed, RecordedUNetStep).
        int total = timesteps.length - first;
        long[] stepNanos = new long[total];
        // Guidance only in a sigma interval: the other steps run the U-Net on the conditional rows only (GuidanceInterval).
        Tensor condContext = guided && options.guidanceInterval() != null
                ? backend.contiguous(context.slice(0, batch, 2 * batch))                           // [B, 77, D]
                : null;
        RecordedUNetStep unetStep = new RecordedUNetStep(backend, unet, context, condContext, guidanceCond,
                recordSteps && attentionListener == null, total);
        try {
            for (int i = first; i < timesteps.length; i++) {
                long ts = System.nanoTime();
                float t = (float) timesteps[i];
                // The step's device tensors (input, time projection, prediction) are freed when it ends.
                try (TensorScope stepScope = TensorScope.open()) {
                    float[] modelInput = scheduler.scaleModelInput(latents, i);                    // [B, 4, h, w]
                    Tensor x = backend.toDevice(Tensor.of(modelInput, shape));
                    boolean guideStep = guided && options.guidesAt(scheduler.sigmaAt(i));
                    if (guideStep) {
                        x = backend.concat(0, x, x);                                               // [2B, 4, h, w]
                    }
                    if (inpaintingUNet) {
                        Tensor condition = backend.toDevice(inpainting.unetCondition());           // [2B or B, 5, h, w]
                        x = backend.concat(1, x, condition);                                       // [2B or B, 9, h, w]
                    }
                    Tensor tProj = unet.timeProjection(new float[] {t}, x.dim(0));                 // [2B or B, C0]
                    if (attentionListener != null) {                                               // the conditional rows: the last B
                        int step = i - first + 1;
                        unet.listenToCrossAttention(map -> attentionListener.onCrossAttention(step, total, map), x.dim(0) - batch, batch);
                    }
                    Tensor out = unetStep.forward(i - first + 1, x, tProj, guided && !guideStep);  // [2B or B, 4, h, w]
                    float[] prediction = backend.toHost(out).data();
                    float[] noisePred = prediction;                                                // [B, 4, h, w]
                    if (guideStep) {
                        noisePred = Guidance.classifierFree(prediction, guidance);
                        if (options.guidanceRescale() > 0) {
                            Guidance.rescale(noisePred, prediction, batch, options.guidanceRescale());
                        }
                    }
                    if (listener.wantsPredictions()) {
                        double sigma = scheduler.sigmaAt(i);
                        listener.onPrediction(i - first + 1, total, sigma, predictedX0(modelInput, noisePred, sigma, predictionType(scheduler)));
                    }
                    latents = scheduler.step(noisePred, i, latents, shape, noise);                 // [B, 4, h, w]
                    if (inpainting != null && !inpaintingUNet) {
                        latents = keepUnmasked(latents, inpainting, scheduler, i, timesteps.length); // [B, 4, h, w]
                    }
                    NonFiniteLatentsException.check(latents, i - first + 1, total, request.guidanceScale());
                }
                stepNanos[i - first] = System.nanoTime() - ts;
                listener.onStep(i - first + 1, total, timesteps[i], latents, stepNanos[i - first]);
            }
        } finally {
            unet.listenToCrossAttention(null, 0, 0);
            unetStep.close();
            recordingStatus = unetStep.status();
        }

        // 4. Decode: undo the latent scaling, run the VAE decoder, map [-1, 1] to [0, 1]. (The LCM pipeline decodes the
        //    last step's denoised estimate, which LCMScheduler returns as the latents of its final step.)
        long t2 = System.nanoTime();
        if (decode && releaseWeightPages) {
            spec.unetWeights().releasePages();
        }
        List<RgbImage> images = decode ? decode(latents, shape) : List.of();
        long decodeNanos = System.nanoTime() - t2;

        return new GenerationResult(images, latents, prompt.prompt(), prompt.negative(),
                new GenerationResult.Timings(textNanos, imageNanos, stepNanos, decodeNanos));
    }

    // ------------------------------------------------------------------------------------------
    // Stages

    /**
     * Refuses what an LCM U-Net cannot run as asked: diffusers' LatentConsistencyModelPipeline takes no
     * negative prompt (there is no unconditional pass to steer), and its image-to-image pipeline is not
     * implemented here yet.
     */
    private static void checkSupported(GenerationRequest request, SamplingOptions options, boolean embedded) {
        if (!embedded) {
            return;
        }
        if (options.guidanceRescale() > 0 || options.guidanceInterval() != null) {
            throw new UnsupportedRequestException(UnsupportedRequestException.Part.GUIDANCE,
                    "this U-Net is LCM-distilled (time_cond_proj_dim): its guidance is an embedding, so guidance rescale and a"
                            + " guidance interval have no classifier-free guidance to act on; leave them out");
        }
        if (!request.negativePrompt().isEmpty()) {
            throw new UnsupportedRequestException(UnsupportedRequestException.Part.NEGATIVE_PROMPT,
                    "this U-Net is LCM-distilled (time_cond_proj_dim): it runs without an unconditional pass, so a negative prompt has no effect"
                            + " (diffusers' LatentConsistencyModelPipeline takes none); leave it out");
        }
        if (request.isImageToImage()) {
            throw new UnsupportedRequestException(UnsupportedRequestException.Part.IMAGE_TO_IMAGE,
                    "image-to-image with an LCM-distilled U-Net (time_cond_proj_dim) is not supported yet; use text-to-image");
        }
    }

    /**
     * The context with its conditional rows (the last B) replaced, position by position, by the blend of the prompt's
     * conditioning with that of the blend's other texts, each encoded as the prompt is (PromptBlend).
     */
    private Tensor blendConditioning(Tensor context, GenerationRequest request, int batch, boolean guided, PromptBlend blend) {
        int[] shape = context.shape();                                                          // [2B or B, L, D]
        int len = shape[1];
        int dim = shape[2];
        float[] all = backend.toHost(backend.contiguous(context)).toFloatArray();
        List<float[]> others = new ArrayList<>();
        for (String text : blend.texts()) {
            Tensor c = promptEncoder.encode(text, "", batch, false, request.clipSkip(), request.promptStyle()).context(); // [B, L', D]
            if (c.dim(1) != len) {
                throw new IllegalArgumentException("the prompt to blend with (\"" + text + "\") encodes to " + c.dim(1)
                        + " positions and the prompt to " + len + " (A1111 chunks of 77): give texts of the same number of chunks");
            }
            others.add(backend.toHost(backend.contiguous(c)).toFloatArray());
        }
        int condFrom = guided ? batch : 0;
        for (int b = 0; b < batch; b++) {
            for (int p = 0; p < len; p++) {
                int at = ((condFrom + b) * len + p) * dim;
                int otherAt = (b * len + p) * dim;
                List<float[]> vectors = others.stream().map(o -> java.util.Arrays.copyOfRange(o, otherAt, otherAt + dim)).toList();
                float[] mixed = blend.combine(java.util.Arrays.copyOfRange(all, at, at + dim), vectors);
                System.arraycopy(mixed, 0, all, at, dim);
            }
        }
        return backend.toDevice(Tensor.of(all, shape));
    }

    /**
     * Where image-to-image starts (diffusers' get_timesteps): it runs int(steps * strength) of the
     * steps, skipping the first ones; second-order schedulers list each step order() times (Scheduler.entryOfStep).
     */
    private static int imageToImageStartIndex(Scheduler scheduler, int steps, double strength, int scheduleLength) {
        int initTimestep = Math.min((int) (steps * strength), steps);
        int tStart = Math.max(steps - initTimestep, 0);
        int first = scheduler.entryOfStep(tStart);
        if (first >= scheduleLength) {
            throw new NoDenoisingStepException(strength, steps);
        }
        return first;
    }

    /**
     * The starting latents of image-to-image (diffusers' prepare_latents): the image's latents (one
     * draw, imageLatents), noised to the start step's level with a second draw.
     */
    private float[] imageToImageLatents(RgbImage image, int[] shape, Scheduler scheduler, int first, NoiseSource noise) {
        float[] init = imageLatents(toChw(image), image.height(), image.width(), shape[0], noise); // [B, 4, h, w]
        return scheduler.addNoise(init, noise.randn(shape), first);
    }

    /**
     * diffusers' _encode_vae_image: encode chw ([3, H, W] in [-1, 1]), sample the posterior with one draw (an
     * AutoencoderTiny's encoder gives the latents themselves, and nothing is drawn), scale by scaling_factor and
     * repeat for the batch: [B, 4, H/8, W/8].
     */
    private float[] imageLatents(float[] chw, int h, int w, int batch, NoiseSource noise) {
        Tensor pixels = vaeBackend.toDevice(Tensor.of(chw, 1, 3, h, w));
        float[] sample = switch (vae) {
            case AutoencoderKL kl -> {
                DiagonalGaussianDistribution posterior = vaeTiling ? VaeTiling.encode(kl, pixels) : kl.encode(pixels); // [1, 4, h/8, w/8]
                int[] one = posterior.mean().shape();
                Tensor draw = vaeBackend.toDevice(Tensor.of(noise.randn(one), one));
                yield vaeBackend.toHost(posterior.sample(vaeBackend, draw)).data();
            }
            case AutoencoderTiny tiny -> {
                if (!tiny.hasEncoder()) {
                    throw new UnsupportedRequestException(UnsupportedRequestException.Part.IMAGE_TO_IMAGE, (vaeFolder == null ? "the"
                            : vaeFolder.path() + ":") + " AutoencoderTiny has decoder weights only, so it cannot encode a starting image;"
                            + " use one with encoder weights (encoder.layers.*) for image-to-image and inpainting");
                }
                yield vaeBackend.toHost(tiny.encode(pixels)).data();                               // [1, 4, h/8, w/8]
            }
        };
        float[] init = scale(sample, (float) vae.scalingFactor());
        float[] out = new float[init.length * batch];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(init, 0, out, b * init.length, init.length);                      // [B, 4, h/8, w/8]
        }
        return out;
    }

    /** An image's samples as [3, H, W] in [-1, 1]. */
    private static float[] toChw(RgbImage image) {
        int h = image.height();
        int w = image.width();
        float[] chw = new float[3 * h * w];
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    chw[(c * h + y) * w + x] = 2f * image.get(x, y, c) - 1f;              // [0, 1] -> [-1, 1]
                }
            }
        }
        return chw;
    }

    /**
     * What an inpainting run starts from. latents [B, 4, h, w]; noise, the draw they were made with;
     * imageLatents [B, 4, h, w], the image's (null when the run needs none); mask [h, w] at latent size;
     * unetCondition [2B or B, 5, h, w], the mask and the masked image's latents for a 9-channel U-Net.
     */
    private record InpaintingStart(float[] latents, float[] noise, float[] imageLatents, float[] mask, Tensor unetCondition) {
    }

    /**
     * diffusers' StableDiffusionInpaintPipeline, steps 6 and 7, with their draws in its order. prepare_latents:
     * the image's latents are needed by a 4-channel U-Net (to put the kept region back) and below strength 1 (to
     * start from), one draw; then the noise, one draw; the latents are that noise times init_noise_sigma at
     * strength 1 (is_strength_max: pure noise, even for a 9-channel U-Net), else the image's latents noised to the
     * start step. prepare_mask_latents: the mask at latent size, and the masked image (image * (mask < 0.5))
     * encoded, one more draw, for every U-Net (a 4-channel one does not use it, but diffusers draws it).
     */
    private InpaintingStart inpaintingStart(GenerationRequest request, int[] shape, Scheduler scheduler, int first, NoiseSource noise,
                                            boolean inpaintingUNet, boolean guided) {
        RgbImage image = request.initImage();
        int h = image.height();
        int w = image.width();
        int batch = shape[0];
        float[] chw = toChw(image);                                                            // [3, H, W]
        boolean strengthMax = request.strength() == 1.0;
        float[] imageLatents = !inpaintingUNet || !strengthMax ? imageLatents(chw, h, w, batch, noise) : null; // [B, 4, h, w]
        float[] drawn = noise.randn(shape);                                                    // [B, 4, h, w]
        float[] latents = strengthMax ? scale(drawn, (float) scheduler.initNoiseSigma()) : scheduler.addNoise(imageLatents, drawn, first);
        float[] mask = request.mask().latent(shape[2], shape[3]);                              // [h, w]
        float[] masked = imageLatents(request.mask().maskImage(chw), h, w, batch, noise);      // [B, 4, h, w]
        int rows = guided ? 2 * batch : batch;
        int plane = shape[2] * shape[3];
        int per = shape[1] * plane;
        float[] condition = new float[rows * (1 + shape[1]) * plane];                          // [rows, 1 + 4, h, w]
        for (int r = 0; r < rows; r++) {
            int at = r * (1 + shape[1]) * plane;
            System.arraycopy(mask, 0, condition, at, plane);
            System.arraycopy(masked, (r % batch) * per, condition, at + plane, per);
        }
        return new InpaintingStart(latents, drawn, imageLatents, mask,
                Tensor.of(condition, rows, 1 + shape[1], shape[2], shape[3]));
    }

    /**
     * The 4-channel inpainting step's end: latents = (1 - mask) * init_latents_proper + mask * latents, where
     * init_latents_proper is the image's latents noised with the starting noise to the next timestep's level
     * (not noised after the last step).
     */
    private static float[] keepUnmasked(float[] latents, InpaintingStart start, Scheduler scheduler, int i, int scheduleLength) {
        float[] proper = i < scheduleLength - 1 ? scheduler.addNoise(start.imageLatents(), start.noise(), i + 1) : start.imageLatents();
        float[] mask = start.mask();
        int plane = mask.length;
        float[] out = new float[latents.length];
        for (int j = 0; j < out.length; j++) {
            float m = mask[j % plane];
            out[j] = (1 - m) * proper[j] + m * latents[j];
        }
        return out;
    }

    /**
     * The clean latents a model output predicts from the U-Net's input x_t (variance-preserving scaling, what
     * scaleModelInput gives every scheduler) at noise level sigma, alpha_bar = 1 / (1 + sigma^2): epsilon (Ho et al.
     * 2020, eq. 15) (x_t - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar); v (Salimans & Ho 2022) sqrt(alpha_bar) x_t -
     * sqrt(1 - alpha_bar) v; sample: the output.
     */
    static float[] predictedX0(float[] modelInput, float[] output, double sigma, String predictionType) {
        double a = Double.isInfinite(sigma) ? 0 : 1 / (1 + sigma * sigma);
        double sa = Math.sqrt(a);
        double sb = Math.sqrt(1 - a);
        float[] x0 = new float[output.length];
        for (int i = 0; i < x0.length; i++) {
            x0[i] = (float) switch (predictionType) {
                case "epsilon" -> (modelInput[i] - sb * output[i]) / sa;
                case "v_prediction" -> sa * modelInput[i] - sb * output[i];
                default -> output[i];
            };
        }
        return x0;
    }

    private static String predictionType(Scheduler scheduler) {
        return scheduler.config().has("prediction_type") ? scheduler.config().getString("prediction_type") : "epsilon";
    }

    /** Step 4: latents [B, 4, h, w] (scaled) to B images in [0, 1]; also DiffusionModel.decode. */
    List<RgbImage> decode(float[] latents, int[] shape) {
        float[] unscaled = scale(latents, (float) (1.0 / vae.scalingFactor()));
        Tensor z = vaeBackend.toDevice(Tensor.of(unscaled, shape));
        Tensor decoded = vaeTiling && vae instanceof AutoencoderKL kl ? VaeTiling.decode(kl, z) : vae.decode(z); // [B, 3, H, W]
        float[] pixels = vaeBackend.toHost(decoded).data();
        int b = decoded.dim(0);
        int h = decoded.dim(2);
        int w = decoded.dim(3);
        List<RgbImage> images = new ArrayList<>(b);
        for (int n = 0; n < b; n++) {
            float[] hwc = new float[h * w * 3];
            for (int c = 0; c < 3; c++) {
                for (int i = 0; i < h * w; i++) {
                    float v = pixels[(n * 3 + c) * h * w + i] / 2f + 0.5f;                     // [-1, 1] -> [0, 1]
                    hwc[i * 3 + c] = Math.min(Math.max(v, 0f), 1f);
                }
            }
            images.add(new RgbImage(w, h, hwc));
        }
        return images;
    }

    /**
     * The size of the images a request gives, {width, height}: the init image's (image-to-image), else the
     * request's, else the model's default (the U-Net's sample_size times the VAE's scale factor). The one place
     * that decides and checks it: each side a multiple of the VAE's scale factor (8 for SD), as diffusers'
     * check_inputs; the latent is that size divided by the factor, and the U-Net takes any latent size.
     */
    public int[] outputSize(GenerationRequest r) {
        int down = vae.downFactor();
        int w;
        int h;
        if (r.isImageToImage()) {
            w = r.initImage().width();
            h = r.initImage().height();
        } else {
            int fallback = spec.unet().sampleSize() * down;
            w = r.width() == 0 ? fallback : r.width();
            h = r.height() == 0 ? fallback : r.height();
        }
        if (w % down != 0 || h % down != 0) {
            throw new IllegalArgumentException((r.isImageToImage() ? "init image size " : "width and height ") + w + "x" + h
                    + " must be multiples of " + down + " (the VAE's scale factor)");
        }
        return new int[] {w, h};
    }

    /** The size of the images a request gives with the hires fix: the second pass's, {width, height} (HiresFix.size). */
    public int[] outputSize(GenerationRequest r, HiresFix hires) {
        int[] size = outputSize(r);
        return hires == null ? size : hires.size(size[0], size[1], vae.downFactor());
    }

    private static float[] scale(float[] x, float s) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * s;
        }
        return out;
    }

    @Override
    public void close() {
        if (vaeFolder != null) {
            vaeFolder.close();
        }
        model.close();
    }

    @Override
    public String toString() {
        return "StableDiffusionPipeline[" + spec.path() + ", " + spec.family() + ", " + backend.name() + "]";
    }
}
