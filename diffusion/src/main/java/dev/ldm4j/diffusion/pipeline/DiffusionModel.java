// A loaded model as a Java user sees it: generate(request) for whole runs (StableDiffusionPipeline.generate, nothing
// re-implemented), and the pieces a sampler of one's own needs: the conditioning of a prompt, the denoiser D(x; sigma)
// and the score s(x, sigma) = (D - x) / sigma^2 (docs/SDE.md), a request's sigmas, starting noise and the decoder.
// Samplers work in k-diffusion's variance-exploding form x = x0 + sigma n, as the Euler, Heun and SDE samplers do.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.model.GenerationDefaults;
import dev.ldm4j.diffusion.model.StableDiffusionModelSpec;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.Scheduler;
import dev.ldm4j.diffusion.schedulers.Score;
import dev.ldm4j.diffusion.vae.Autoencoder;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * A Stable Diffusion model loaded for use from Java (see Ldm4j.load). Whole runs:
 * <pre>{@code
 * GenerationResult r = model.generate(model.request("a red circle").withSeed(7));
 * }</pre>
 * A sampler of one's own (latents are float[] of shape latentShape(request), row-major):
 * <pre>{@code
 * Conditioning c = model.condition(request);            // prompt (and negative prompt, with guidance)
 * double[] sigmas = model.sigmas(request);              // the noise levels of the request's scheduler
 * float[] x = model.noise(request);  x *= sigmas[0];    // the pipeline's first draw
 * for each i: D = model.denoise(x, sigmas[i], c);  x += (x - D) / sigmas[i] * (sigmas[i + 1] - sigmas[i]);
 * RgbImage image = model.decode(x, model.latentShape(request)).get(0);
 * }</pre>
 * Not thread-safe; one run at a time. Closing it closes the model (and the backend, when Ldm4j made it).
 */
public final class DiffusionModel implements AutoCloseable {
    private final StableDiffusionPipeline pipeline;
    private final Backend backend;
    private final boolean ownsBackend;
    private Scheduler sigmaToTimestep;         // an Euler scheduler of the model's config, for the timestep of a sigma (made on first use)

    DiffusionModel(StableDiffusionPipeline pipeline, Backend backend, boolean ownsBackend) {
        this.pipeline = pipeline;
        this.backend = backend;
        this.ownsBackend = ownsBackend;
    }

    /** A pipeline loaded by hand (with LoRA files, a config folder, ...) as a DiffusionModel; closing it closes the pipeline. */
    public static DiffusionModel of(StableDiffusionPipeline pipeline) {
        return new DiffusionModel(pipeline, pipeline.backend(), false);
    }

    /** The pipeline underneath, for what this class leaves out (SamplingOptions, a NoiseSource, step recording, VAE tiling). */
    public StableDiffusionPipeline pipeline() {
        return pipeline;
    }

    /** What was loaded: the model's folder or file, family, configs. */
    public StableDiffusionModelSpec spec() {
        return pipeline.spec();
    }

    // ------------------------------------------------------------------------------------------
    // Whole runs

    /**
     * A text-to-image request for prompt with the model folder's own defaults (its ldm4j_defaults.json: steps,
     * guidance, scheduler, size), else diffusers' (50 steps, guidance 7.5, the model's scheduler and size); seed 0.
     */
    public GenerationRequest request(String prompt) {
        Map<String, Object> d = GenerationDefaults.of(spec().path());
        boolean lcm = spec().unet().hasGuidanceEmbedding();
        GenerationDefaults.SchedulerChoice scheduler = GenerationDefaults.scheduler(d, null, false);
        return GenerationRequest.textToImage(prompt)
                .withSteps(GenerationDefaults.steps(d, null, lcm))
                .withGuidanceScale(GenerationDefaults.guidance(d, null, lcm))
                .withScheduler(scheduler.name(), scheduler.karras())
                .withSize(GenerationDefaults.intValue(d, "width", 0), GenerationDefaults.intValue(d, "height", 0));
    }

    /** Runs the request: its scheduler, a torch.Generator("cpu") seeded with its seed, as the CLI's generate. */
    public GenerationResult generate(GenerationRequest request) {
        return pipeline.generate(request, StepListener.NONE);
    }

    /** As generate(request), calling listener after every step. */
    public GenerationResult generate(GenerationRequest request, StepListener listener) {
        return pipeline.generate(request, listener);
    }

    // ------------------------------------------------------------------------------------------
    // The pieces of a sampler

    /**
     * The text conditioning of a prompt: the U-Net's context, held on the model's backend. guided() tells whether
     * denoise applies classifier-free guidance with it (a negative prompt's pass beside the prompt's).
     */
    public static final class Conditioning {
        private final Tensor context;        // [2B or B, L, D]: [uncond x B, cond x B] when guided
        private final Tensor guidanceCond;   // [B, time_cond_proj_dim] for an LCM U-Net, else null
        private final int[] latentShape;     // [B, C, h, w]
        private final double guidanceScale;
        private final boolean guided;

        private Conditioning(Tensor context, Tensor guidanceCond, int[] latentShape, double guidanceScale, boolean guided) {
            this.context = context;
            this.guidanceCond = guidanceCond;
            this.latentShape = latentShape;
            this.guidanceScale = guidanceScale;
            this.guided = guided;
        }

        /** The shape [B, C, h, w] of the latents it conditions (the request's latentShape). */
        public int[] latentShape() {
            return latentShape.clone();
        }

        /** The classifier-free guidance weight (1: none). */
        public double guidanceScale() {
            return guidanceScale;
        }

        /** Whether denoise runs the U-Net on [uncond, cond] and guides: guidance scale above 1 and a U-Net without embedded guidance. */
        public boolean guided() {
            return guided;
        }
    }

    /**
     * The prompt alone, without guidance, for one latent of the model's default size: for guidance by hand, condition the
     * prompt and "" and mix the two D's. (Other sizes and batches: condition(request.withGuidanceScale(1)).)
     */
    public Conditioning condition(String prompt) {
        return condition(GenerationRequest.textToImage(prompt).withGuidanceScale(1));
    }

    /**
     * The conditioning a request's run uses: its prompt, negative prompt, guidance scale, batch size, clip skip and
     * prompt style, encoded as generate encodes them, for latents of latentShape(request).
     *
     * @throws UnsupportedRequestException for an inpainting U-Net, whose input needs a mask and image channels (use generate)
     */
    public Conditioning condition(GenerationRequest request) {
        if (spec().unet().isInpainting()) {
            throw new UnsupportedRequestException(UnsupportedRequestException.Part.INPAINTING_INPUTS,
                    "this is an inpainting U-Net (9 input channels): denoise has no mask or image to give it; run it with generate");
        }
        boolean embedded = spec().unet().hasGuidanceEmbedding();
        boolean guided = !embedded && request.guidanceScale() > 1.0;
        int batch = request.batchSize();
        Tensor context = pipeline.promptEncoder().encode(request.prompt(), request.negativePrompt(), batch, guided,
                request.clipSkip(), request.promptStyle()).context();                          // [2B or B, L, D]
        Tensor guidanceCond = embedded
                ? backend.toDevice(GuidanceScaleEmbedding.forGuidanceScale(request.guidanceScale(), batch, spec().unet().timeCondProjDim()))
                : null;
        return new Conditioning(context, guidanceCond, latentShape(request), request.guidanceScale(), guided);
    }

    /**
     * The denoised estimate D(x; sigma) = E[x0 | x], from the score by Tweedie's formula: x + sigma^2 s(x, sigma).
     * x is c.latentShape() at noise level sigma in the variance-exploding form x = x0 + sigma n; with a guided
     * conditioning the guidance is applied (D is linear in the U-Net's output, so guiding D or the output is the same).
     *
     * @param sigma the noise level, finite and above 0
     */
    public float[] denoise(float[] x, double sigma, Conditioning c) {
        double[] s = score(x, sigma, c);
        float[] d = new float[x.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) (x[i] + sigma * sigma * s[i]);
        }
        return d;
    }

    /**
     * The score s(x, sigma) = grad_x log p_sigma(x) the model estimates (Score.fromModelOutput: -eps / sigma for an
     * epsilon U-Net), guided when c is. The U-Net is fed x / sqrt(sigma^2 + 1) at the train timestep of sigma (log-linear
     * between the train schedule's sigmas, as k-diffusion's sigma_to_t and diffusers' Euler with sigmas= do).
     *
     * @param sigma the noise level, finite and above 0
     */
    public double[] score(float[] x, double sigma, Conditioning c) {
        if (!(sigma > 0) || Double.isInfinite(sigma)) {
            throw new IllegalArgumentException("sigma must be finite and above 0, got " + sigma + " (at sigma 0 the denoised sample is x itself)");
        }
        int[] shape = c.latentShape;                                                           // [B, C, h, w]
        if (x.length != numel(shape)) {
            throw new IllegalArgumentException("x has " + x.length + " values; the conditioning is for latents of shape "
                    + Arrays.toString(shape) + " (" + numel(shape) + " values): condition the request these latents belong to");
        }
        if (sigmaToTimestep == null) {
            sigmaToTimestep = pipeline.scheduler("euler", false);
        }
        sigmaToTimestep.setCustomSigmas(new double[] {sigma, 0});
        float t = (float) sigmaToTimestep.timesteps()[0];
        float inScale = (float) (1 / Math.sqrt(sigma * sigma + 1));
        float[] modelInput = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            modelInput[i] = x[i] * inScale;                                                    // [B, C, h, w], unit variance
        }
        float[] output;
        try (TensorScope scope = TensorScope.open()) {
            Tensor in = backend.toDevice(Tensor.of(modelInput, shape));
            if (c.guided) {
                in = backend.concat(0, in, in);                                                // [2B, C, h, w]
            }
            Tensor tProj = pipeline.model().unet().timeProjection(new float[] {t}, in.dim(0));  // [2B or B, C0]
            Tensor out = pipeline.model().unet().forwardProjected(in, tProj, c.context, c.guidanceCond); // [2B or B, C, h, w]
            float[] prediction = backend.toHost(out).data();
            output = c.guided ? Guidance.classifierFree(prediction, (float) c.guidanceScale) : prediction; // [B, C, h, w]
        }
        String predictionType = sigmaToTimestep.config().has("prediction_type")
                ? sigmaToTimestep.config().getString("prediction_type") : "epsilon";
        return Score.fromModelOutput(predictionType, output, x, sigma);
    }

    /**
     * The noise levels of the request's scheduler (its name, karras flag and steps; null name: the model's own), in
     * sampling order, ending in the final level (0 for most). Only schedulers that keep sigmas have them (the
     * k-diffusion family: euler, euler_a, heun, lms, kdpm2, dpmpp_*, sde_euler, ...).
     *
     * @throws IllegalArgumentException for a scheduler without sigmas (ddim, pndm, ...)
     */
    public double[] sigmas(GenerationRequest request) {
        Scheduler s = pipeline.scheduler(request.scheduler(), request.karras());
        s.setTimesteps(request.steps());
        double[] sigmas = s.sigmas();
        if (sigmas.length == 0) {
            throw new IllegalArgumentException("the scheduler " + s.name() + " keeps no sigmas; ask the request for one that does"
                    + " (e.g. withScheduler(\"euler\", false))");
        }
        return sigmas;
    }

    /**
     * The latents' shape for a request, [B, C, h, w]: batch size, the VAE's latent channels, and the output size
     * (StableDiffusionPipeline.outputSize) divided by the VAE's scale factor.
     */
    public int[] latentShape(GenerationRequest request) {
        int[] size = pipeline.outputSize(request);                                             // {W, H}
        Autoencoder vae = pipeline.vae();
        return new int[] {request.batchSize(), vae.latentChannels(), size[1] / vae.downFactor(), size[0] / vae.downFactor()};
    }

    /**
     * Standard normal latents of latentShape(request), the first draw of a torch.Generator("cpu") seeded with the
     * request's seed: the noise generate starts a text-to-image run from. generate scales it by the scheduler's
     * initNoiseSigma(): the first sigma for "trailing" or "linspace" timestep spacing, sqrt(sigma^2 + 1) for "leading"
     * (diffusers' convention; SD 1.5's scheduler config is "leading").
     */
    public float[] noise(GenerationRequest request) {
        return new TorchGenerator(request.seed()).randn(latentShape(request));
    }

    /** Latents [B, C, h, w] (scaled, as samplers keep them) through the VAE decoder to B images in [0, 1]. */
    public List<RgbImage> decode(float[] latents, int[] shape) {
        if (latents.length != numel(shape)) {
            throw new IllegalArgumentException("latents of shape " + Arrays.toString(shape) + " need " + numel(shape) + " values, got " + latents.length);
        }
        return pipeline.decode(latents, shape);
    }

    private static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** Closes the model, and the backend when Ldm4j.load made it. */
    @Override
    public void close() {
        try {
            pipeline.close();
        } finally {
            if (ownsBackend) {
                backend.close();
            }
        }
    }

    @Override
    public String toString() {
        return "DiffusionModel[" + spec().path() + ", " + spec().family() + ", " + backend.name() + "]";
    }
}
