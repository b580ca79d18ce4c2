// The pipeline with an LCM-distilled U-Net (time_cond_proj_dim), as diffusers' LatentConsistencyModelPipeline
// runs it, on a whole model made of lcm-tiny's unet/ and sd1-tiny's text encoder, VAE, tokenizer and scheduler
// config (lcm-tiny holds only the U-Net; the two share every width). No reference run exists, so the checks
// are behaviour: the run is the LCM loop written out (one conditional U-Net pass per step with the embedded
// guidance w = g - 1, LCMScheduler steps, the generator drawn in diffusers' order), bit for bit; the embedding
// changes the images (against the same U-Net with cond_proj zeroed, which is the U-Net given no condition);
// guidance reaches the U-Net only through the embedding (no classifier-free batch); the LCM scheduler is the
// default; a negative prompt and image-to-image are refused by name.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.model.ModelDiscovery;
import dev.ldm4j.diffusion.model.ModelInspector;
import dev.ldm4j.diffusion.prompt.PromptStyle;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.LCMScheduler;
import dev.ldm4j.diffusion.schedulers.Schedulers;
import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.nn.LayerNorm;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.SafetensorsWriter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class LcmPipelineTest {
    /** The scheduler config of an LCM download (LCM_Dreamshaper_v7's keys and values). */
    private static final String LCM_SCHEDULER_CONFIG = """
            {"_class_name": "LCMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
             "clip_sample": false, "clip_sample_range": 1.0, "num_train_timesteps": 1000, "original_inference_steps": 50,
             "prediction_type": "epsilon", "rescale_betas_zero_snr": false, "set_alpha_to_one": true, "steps_offset": 1,
             "thresholding": false, "timestep_scaling": 10.0, "timestep_spacing": "leading", "trained_betas": null}
            """;

    @TempDir
    static Path tmp;
    private static Backend backend;
    /** lcm-tiny's U-Net with sd1-tiny's other parts and its PNDM scheduler config. */
    private static StableDiffusionPipeline lcm;
    /** The same with lcm-tiny's U-Net's cond_proj zeroed: the U-Net without the guidance condition. */
    private static StableDiffusionPipeline unconditioned;

    @BeforeAll
    static void load() throws IOException {
        assumeTrue(SharedFixtures.available() && Files.isDirectory(SharedFixtures.conformance().resolve("lcm-tiny")),
                "shared conformance fixtures (sd1-tiny, lcm-tiny) absent");
        backend = Backends.create("cpu");
        lcm = StableDiffusionPipeline.load(combined("lcm", null, false), null, null, backend);
        unconditioned = StableDiffusionPipeline.load(combined("zeroed", null, true), null, null, backend);
    }

    @AfterAll
    static void close() {
        if (lcm != null) {
            lcm.close();
            unconditioned.close();
        }
    }

    /**
     * A diffusers folder: lcm-tiny's unet/ (its cond_proj zeroed when asked), sd1-tiny's text_encoder/, vae/,
     * tokenizer/, and scheduler/ (or one holding schedulerConfig), with an LCM pipeline's model_index.json.
     */
    static Path combined(String name, String schedulerConfig, boolean zeroCondProj) throws IOException {
        Path sd1 = SharedFixtures.conformance().resolve("sd1-tiny");
        Path lcmUnet = SharedFixtures.conformance().resolve("lcm-tiny").resolve("unet");
        Path dir = Files.createDirectories(tmp.resolve(name));
        Files.writeString(dir.resolve("model_index.json"), Files.readString(sd1.resolve("model_index.json"))
                .replace("\"StableDiffusionPipeline\"", "\"LatentConsistencyModelPipeline\"")
                .replace("\"PNDMScheduler\"", "\"LCMScheduler\""));
        for (String part : new String[] {"text_encoder", "vae", "tokenizer"}) {
            Files.createSymbolicLink(dir.resolve(part), sd1.resolve(part).toAbsolutePath());
        }
        if (schedulerConfig == null) {
            Files.createSymbolicLink(dir.resolve("scheduler"), sd1.resolve("scheduler").toAbsolutePath());
        } else {
            Files.writeString(Files.createDirectories(dir.resolve("scheduler")).resolve("scheduler_config.json"), schedulerConfig);
        }
        if (!zeroCondProj) {
            Files.createSymbolicLink(dir.resolve("unet"), lcmUnet.toAbsolutePath());
        } else {
            Path unet = Files.createDirectories(dir.resolve("unet"));
            Files.copy(lcmUnet.resolve("config.json"), unet.resolve("config.json"));
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            try (SafetensorsFile f = SafetensorsFile.open(lcmUnet.resolve("diffusion_pytorch_model.safetensors"))) {
                for (String n : f.names()) {
                    Tensor t = f.tensor(n);
                    tensors.put(n, n.equals("time_embedding.cond_proj.weight") ? Tensor.of(new float[(int) t.numel()], t.shape())
                            : Tensor.of(t.toFloatArray(), t.shape()));
                }
            }
            SafetensorsWriter.write(unet.resolve("diffusion_pytorch_model.safetensors"), tensors);
        }
        return dir;
    }

    private static GenerationRequest twoSteps(double guidance) {
        return GenerationRequest.textToImage("a red apple on a wooden table").withSteps(2).withGuidanceScale(guidance).withSeed(7);
    }

    private static double maxAbsDifference(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs((double) a[i] - b[i]));
        }
        return d;
    }

    @Test
    void anLcmFolderIsFoundAndSamplesWithTheLcmSchedulerByDefault() throws IOException {
        assertEquals(32, lcm.spec().unet().timeCondProjDim());
        assertTrue(ModelDiscovery.hasGuidanceEmbedding(lcm.spec().path()));
        assertFalse(ModelDiscovery.hasGuidanceEmbedding(SharedFixtures.conformance().resolve("sd1-tiny")));
        String report = ModelInspector.inspect(lcm.spec().path(), null);
        assertTrue(report.contains("guidance embedding of width 32 (LCM-distilled)"), report);
        assertTrue(report.contains("every tensor present with the expected shape and used by a model"), report);
        // The folder's scheduler config names PNDM: the LCM scheduler is built from it.
        assertEquals("lcm", lcm.defaultSchedulerName());
        assertInstanceOf(LCMScheduler.class, lcm.scheduler(null, false));
        // An LCM download's own config (LCMScheduler) is used as it is.
        try (StableDiffusionPipeline own = StableDiffusionPipeline.load(combined("own-scheduler", LCM_SCHEDULER_CONFIG, false), null, null, backend)) {
            assertNull(own.defaultSchedulerName());
            assertInstanceOf(LCMScheduler.class, own.scheduler(null, false));
            assertEquals(4, own.generate(twoSteps(8.5).withSteps(4), StepListener.NONE).timings().stepNanos().length);
        }
    }

    @Test
    void aTwoStepRunIsTheLcmLoopWithTheEmbeddedGuidance() {
        GenerationResult run = lcm.generate(twoSteps(8.5), StepListener.NONE);
        assertEquals(2, run.timings().stepNanos().length);
        assertEquals(128, run.images().get(0).width());

        // diffusers' LatentConsistencyModelPipeline.__call__, written out: the conditional prompt embedding only,
        // w_embedding of guidance - 1, latents = randn * init_noise_sigma, then per step one U-Net call with
        // timestep_cond and LCMScheduler.step (which draws the next step's noise from the same generator).
        var spec = lcm.spec();
        Params text = Params.root(spec.textEncoderWeights(), backend);
        PromptEncoder encoder = new PromptEncoder(lcm.tokenizer(), lcm.model().textEncoder(),
                new LayerNorm(text.child("text_model").child("final_layer_norm"), spec.textEncoder().hiddenSize(),
                        (float) spec.textEncoder().layerNormEps()), backend);
        Tensor context = encoder.encode("a red apple on a wooden table", "", 1, false, 0, PromptStyle.DIFFUSERS).context();
        assertEquals(1, context.dim(0), "no unconditional row");
        Tensor w = GuidanceScaleEmbedding.of(new double[] {7.5}, 32);
        LCMScheduler scheduler = (LCMScheduler) Schedulers.create("lcm", spec.schedulerConfig(), false);
        scheduler.setTimesteps(2);
        TorchGenerator generator = new TorchGenerator(7);
        int[] shape = {1, 4, 16, 16};
        float[] latents = generator.randn(shape);
        for (int k = 0; k < latents.length; k++) {
            latents[k] *= (float) scheduler.initNoiseSigma();
        }
        UNet2DConditionModel unet = lcm.model().unet();
        for (int i = 0; i < 2; i++) {
            Tensor out = unet.forward(Tensor.of(latents, shape), new float[] {(float) scheduler.timesteps()[i]}, context, w);
            latents = scheduler.step(backend.toHost(out).toFloatArray(), i, latents, shape, generator);
        }
        assertArrayEquals(latents, run.latents(), "the pipeline's latents are the LCM loop's, bit for bit");
        assertArrayEquals(scheduler.lastDenoised(), run.latents(), "the last step's latents are its denoised estimate, which diffusers decodes");
    }

    @Test
    void theEmbeddingChangesTheImageAndIsTheOnlyWayGuidanceActs() {
        GenerationResult with = lcm.generate(twoSteps(8.5), StepListener.NONE);
        GenerationResult without = unconditioned.generate(twoSteps(8.5), StepListener.NONE);
        double latentDiff = maxAbsDifference(with.latents(), without.latents());
        double pixelDiff = maxAbsDifference(with.images().get(0).data(), without.images().get(0).data());
        System.out.printf("lcm 2-step run with and without the guidance embedding: latents differ by up to %.3g, pixels by %.3g%n",
                latentDiff, pixelDiff);
        assertTrue(latentDiff > 1e-2, "latents differ by " + latentDiff);
        assertTrue(pixelDiff > 1e-3, "pixels differ by " + pixelDiff);

        // Another guidance scale is another embedding, so another image ...
        assertTrue(maxAbsDifference(with.latents(), lcm.generate(twoSteps(3.0), StepListener.NONE).latents()) > 1e-2);
        // ... but with the condition zeroed the scale has no effect at all: there is no classifier-free batch.
        assertArrayEquals(without.latents(), unconditioned.generate(twoSteps(3.0), StepListener.NONE).latents());
    }

    @Test
    void aNegativePromptAndImageToImageAreRefusedByName() {
        UnsupportedRequestException e = assertThrows(UnsupportedRequestException.class,
                () -> lcm.generate(twoSteps(8.5).withNegativePrompt("blurry"), StepListener.NONE));
        assertEquals(UnsupportedRequestException.Part.NEGATIVE_PROMPT, e.part());
        assertTrue(e.getMessage().contains("negative prompt") && e.getMessage().contains("time_cond_proj_dim"), e.getMessage());

        RgbImage image = new RgbImage(128, 128, new float[128 * 128 * 3]);
        e = assertThrows(UnsupportedRequestException.class,
                () -> lcm.generate(GenerationRequest.imageToImage("a red apple", image).withSteps(2), StepListener.NONE));
        assertEquals(UnsupportedRequestException.Part.IMAGE_TO_IMAGE, e.part());
    }
}
