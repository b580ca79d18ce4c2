// Inpainting against diffusers' StableDiffusionInpaintPipeline (sd1-inpaint-tiny/pipelines_inpaint.*: a
// 9-channel U-Net, DDIM, 8 steps, guidance 7.5, strength 1.0 and 0.7, seed 1234): with the recorded draws
// replayed, and from the seed alone, the latents after every step must be within relative error 1e-3 and
// every pixel within 2/255, from the diffusers folder and from an original-layout single file of the same
// weights. For an ordinary 4-channel U-Net (sd1-tiny, no reference run), the kept region of the latents
// after every step must be exactly the image's latents noised to the next step's level, as diffusers
// puts it back.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.model.SingleFileArchitecture;
import dev.ldm4j.diffusion.random.NoiseSource;
import dev.ldm4j.diffusion.random.ReplayNoise;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.Scheduler;
import dev.ldm4j.diffusion.schedulers.Schedulers;
import dev.ldm4j.diffusion.vae.DiagonalGaussianDistribution;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.SafetensorsWriter;
import dev.ldm4j.weights.keys.MappedWeightSource;
import dev.ldm4j.weights.keys.OriginalLayout;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class InpaintingConformanceTest {
    private static final double LATENT_RELATIVE_TOLERANCE = 1e-3;
    private static final String[] RUNS = {"ddim.8.cfg7.5.s1.0", "ddim.8.cfg7.5.s0.7"};

    @TempDir
    static Path temp;

    private static Backend backend;
    private static Path dir;

    @BeforeAll
    static void setUp() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        dir = SharedFixtures.conformance().resolve("sd1-inpaint-tiny");
        assumeTrue(dir.resolve("pipelines_inpaint.safetensors").toFile().isFile(), "sd1-inpaint-tiny not present");
        backend = Backends.create("cpu");
    }

    /**
     * sd1-tiny.safetensors (original layout, F16) with its U-Net replaced by sd1-inpaint-tiny's, tensor for
     * tensor under the original names the key mapper reads them from: the inpainting model as a single file.
     */
    private static Path inpaintingSingleFile() {
        Path file = temp.resolve("sd1-inpaint-tiny.safetensors");
        if (file.toFile().isFile()) {
            return file;
        }
        Path conf = SharedFixtures.conformance();
        try (SafetensorsFile base = SafetensorsFile.open(conf.resolve("sd1-tiny.safetensors"));
             SafetensorsFile unet = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            MappedWeightSource mapped = OriginalLayout.unet(base, SingleFileArchitecture.infer(base).structure());
            Map<String, String> diffusersName = new LinkedHashMap<>();
            mapped.entries().forEach((target, e) -> diffusersName.put(e.sourceName(), target));
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (String name : base.names()) {
                String d = diffusersName.get(name);
                out.put(name, d == null ? base.tensor(name) : Tensor.of(unet.tensor(d).toFloatArray(), unet.tensor(d).shape()));
            }
            assertEquals(unet.names().size(), diffusersName.size(), "every U-Net tensor placed");
            SafetensorsWriter.write(file, out, DType.F16);
        }
        return file;
    }

    private static StableDiffusionPipeline load(String layout) {
        return layout.equals("folder")
                ? StableDiffusionPipeline.load(dir, null, null, backend)
                : StableDiffusionPipeline.load(inpaintingSingleFile(), dir, null, backend);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> run(String key) {
        Map<String, Object> all = Json.parseObject(dir.resolve("pipelines_inpaint.json"));
        return ((Map<String, Map<String, Object>>) all.get("runs")).get(key);
    }

    /** The reference's image ([1, 3, H, W] in [-1, 1]) as an RgbImage. */
    static RgbImage image(SafetensorsFile f) {
        Tensor t = f.tensor("inpaint.image");
        int h = t.dim(2);
        int w = t.dim(3);
        float[] chw = t.toFloatArray();
        float[] hwc = new float[h * w * 3];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < h * w; i++) {
                hwc[i * 3 + c] = (chw[c * h * w + i] + 1f) / 2f;
            }
        }
        return new RgbImage(w, h, hwc);
    }

    static InpaintMask mask(SafetensorsFile f) {
        Tensor t = f.tensor("inpaint.mask");
        return InpaintMask.binarize(t.dim(3), t.dim(2), t.toFloatArray());
    }

    private static GenerationRequest request(SafetensorsFile f, Map<String, Object> run) {
        return GenerationRequest.inpainting((String) run.get("prompt"), image(f), mask(f))
                .withNegativePrompt((String) run.get("negative_prompt"))
                .withSteps(((Long) run.get("steps")).intValue())
                .withGuidanceScale(((Number) run.get("guidance_scale")).doubleValue())
                .withStrength(((Number) run.get("strength")).doubleValue());
    }

    /** The reference made it with DDIMScheduler.from_config(the model's config). */
    private static Scheduler ddim(StableDiffusionPipeline p) {
        return Schedulers.fromClassName("DDIMScheduler", new LinkedHashMap<>(p.spec().schedulerConfig()));
    }

    private static void assertFollowsReference(SafetensorsFile f, String key, GenerationResult result, List<float[]> steps, String what) {
        float[] expected = f.tensor(key + ".step_latents").toFloatArray();
        int per = expected.length / steps.size();
        assertEquals(f.tensor(key + ".step_latents").dim(0), steps.size(), what + ": steps run");
        for (int i = 0; i < steps.size(); i++) {
            double err = PipelineConformanceTest.relativeError(steps.get(i), Arrays.copyOfRange(expected, i * per, (i + 1) * per));
            assertTrue(err <= LATENT_RELATIVE_TOLERANCE, what + ": step " + (i + 1) + " latents relative error " + err);
        }
        double worst = PipelineConformanceTest.assertImageClose(f.tensor(key + ".image").toFloatArray(), result.images().get(0), what);
        System.out.printf("%s: largest pixel difference %.4f/255%n", what, worst);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"folder", "single file"})
    void inpaintingUNetWithReplayedDrawsFollowsDiffusersStepByStep(String layout) {
        try (StableDiffusionPipeline p = load(layout);
             SafetensorsFile f = SafetensorsFile.open(dir.resolve("pipelines_inpaint.safetensors"))) {
            assertEquals(9, p.spec().unet().inChannels());
            for (String key : RUNS) {
                ReplayNoise noise = new ReplayNoise();
                for (int d = 0; f.info(key + ".draw" + d) != null; d++) {
                    noise.add(f.tensor(key + ".draw" + d).toFloatArray(), f.tensor(key + ".draw" + d).shape());
                }
                List<float[]> steps = new ArrayList<>();
                GenerationResult result = p.generate(request(f, run(key)), ddim(p), noise, (step, total, t, latents, nanos) -> steps.add(latents));
                assertEquals(noise.recorded(), noise.used(), key + ": every recorded draw used, in order");
                assertFollowsReference(f, key, result, steps, layout + " " + key);
            }
        }
    }

    @Test
    void inpaintingRunsReproduceDiffusersFromTheSeedAlone() {
        try (StableDiffusionPipeline p = load("folder");
             SafetensorsFile f = SafetensorsFile.open(dir.resolve("pipelines_inpaint.safetensors"))) {
            for (String key : RUNS) {
                Map<String, Object> run = run(key);
                NoiseSource seeded = new TorchGenerator((Long) run.get("seed"), TorchGenerator.Precision.FLOAT64);
                List<float[]> steps = new ArrayList<>();
                GenerationResult result = p.generate(request(f, run), ddim(p), seeded, (step, total, t, latents, nanos) -> steps.add(latents));
                assertFollowsReference(f, key, result, steps, "seed " + key);
            }
        }
    }

    @Test
    void inpaintingUNetRefusesARequestWithoutMask() {
        try (StableDiffusionPipeline p = load("folder")) {
            UnsupportedRequestException e = assertThrows(UnsupportedRequestException.class,
                    () -> p.generate(GenerationRequest.textToImage("a cat").withSteps(2), ddim(p), new TorchGenerator(0), StepListener.NONE));
            assertEquals(UnsupportedRequestException.Part.INPAINTING_INPUTS, e.part());
            assertTrue(e.getMessage().contains("9 input channels"), e.getMessage());
        }
    }

    /**
     * An ordinary U-Net (sd1-tiny): after every step the kept region (mask 0 at latent size) must be exactly
     * (1 - 0) * add_noise(image latents, starting noise, next timestep) (the image latents after the last step),
     * with the image latents made here from the VAE and the replayed draws; the repainted region must not be.
     * Draws in diffusers' order at strength 0.7: image posterior, noise, masked-image posterior.
     */
    @Test
    void ordinaryUNetPutsTheKeptRegionBackAtEveryStep() {
        try (StableDiffusionPipeline p = StableDiffusionPipeline.load(SharedFixtures.conformance().resolve("sd1-tiny"), null, null, backend);
             SafetensorsFile f = SafetensorsFile.open(dir.resolve("pipelines_inpaint.safetensors"))) {
            RgbImage image = image(f);
            InpaintMask mask = mask(f);
            int[] shape = {1, 4, image.height() / 8, image.width() / 8};
            int n = 4 * shape[2] * shape[3];
            java.util.Random r = new java.util.Random(7);
            float[][] draws = new float[3][n];
            for (float[] d : draws) {
                for (int i = 0; i < n; i++) {
                    d[i] = (float) r.nextGaussian();
                }
            }
            ReplayNoise noise = new ReplayNoise().add(draws[0], shape).add(draws[1], shape).add(draws[2], shape);
            Scheduler scheduler = ddim(p);
            List<float[]> steps = new ArrayList<>();
            List<Double> timesteps = new ArrayList<>();
            GenerationRequest req = GenerationRequest.inpainting("a photo of a cat", image, mask).withSteps(8).withStrength(0.7);
            p.generate(req, scheduler, noise, (step, total, t, latents, nanos) -> {
                steps.add(latents);
                timesteps.add(t);
            });
            assertEquals(3, noise.used());
            assertEquals(5, steps.size());

            float[] chw = new float[3 * image.width() * image.height()];
            int plane = image.width() * image.height();
            for (int c = 0; c < 3; c++) {
                for (int i = 0; i < plane; i++) {
                    chw[c * plane + i] = 2f * image.data()[i * 3 + c] - 1f;
                }
            }
            DiagonalGaussianDistribution posterior = p.model().vae().encode(Tensor.of(chw, 1, 3, image.height(), image.width()));
            float[] sample = posterior.sample(backend, Tensor.of(draws[0], shape)).toFloatArray();
            float[] imageLatents = new float[n];
            for (int i = 0; i < n; i++) {
                imageLatents[i] = sample[i] * (float) p.spec().vae().scalingFactor();
            }
            float[] latentMask = mask.latent(shape[2], shape[3]);
            double[] all = scheduler.timesteps();
            int first = all.length - steps.size();
            int kept = 0;
            int repaintedDiffering = 0;
            for (int s = 0; s < steps.size(); s++) {
                int next = first + s + 1;
                float[] proper = next < all.length ? scheduler.addNoise(imageLatents, draws[1], next) : imageLatents;
                for (int i = 0; i < n; i++) {
                    if (latentMask[i % latentMask.length] == 0f) {
                        assertEquals(proper[i], steps.get(s)[i], 0f, "step " + (s + 1) + " kept latent " + i);
                        kept++;
                    } else if (proper[i] != steps.get(s)[i]) {
                        repaintedDiffering++;
                    }
                }
            }
            assertTrue(kept > 0 && repaintedDiffering > 0.9 * (steps.size() * n - kept), "kept " + kept + ", repainted differing " + repaintedDiffering);
        }
    }
}
