// Behaviour of the pipeline beyond the recorded runs, on the tiny SD 1.x model: the single-file
// checkpoint gives the folder's result, guidance <= 1 skips the unconditional branch, a batch is
// the single run repeated per row, any multiple of 8 runs (text-to-image and image-to-image), and bad
// requests fail with a one-line message.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.random.ReplayNoise;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.Schedulers;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.ReleaseCheckingBackend;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.SafetensorsFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class PipelineBehaviourTest {
    private static Backend backend;
    private static StableDiffusionPipeline folder;
    private static Path dir;

    @BeforeAll
    static void load() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        backend = Backends.create("cpu");
        dir = SharedFixtures.conformance().resolve("sd1-tiny");
        folder = StableDiffusionPipeline.load(dir, null, null, backend);
    }

    @AfterAll
    static void close() {
        if (folder != null) {
            folder.close();
        }
    }

    private static GenerationRequest small(String prompt) {
        return GenerationRequest.textToImage(prompt).withSteps(3).withSize(128, 128).withScheduler("ddim", false);
    }

    @Test
    void singleFileCheckpointWithConfigFolderReproducesTheDiffusersRun() {
        try (StableDiffusionPipeline single = StableDiffusionPipeline.load(SharedFixtures.conformance().resolve("sd1-tiny.safetensors"), dir, null, backend);
             SafetensorsFile f = SafetensorsFile.open(dir.resolve("pipelines.safetensors"))) {
            GenerationRequest req = GenerationRequest.textToImage("a red apple on a wooden table").withSteps(6).withSize(128, 128);
            var config = new java.util.LinkedHashMap<>(single.spec().schedulerConfig());
            config.put("set_alpha_to_one", false);
            config.put("steps_offset", 1L);
            config.put("clip_sample", false);
            ReplayNoise noise = new ReplayNoise().add(f.tensor("ddim.6.cfg7.5.latents0").toFloatArray(), 1, 4, 16, 16);
            GenerationResult r = single.generate(req, Schedulers.create("ddim", config, false), noise, StepListener.NONE);
            PipelineConformanceTest.assertImageClose(f.tensor("ddim.6.cfg7.5.image").toFloatArray(), r.images().get(0), "single file ddim");
        }
    }

    @Test
    void theBlocksReleasingTheirIntermediatesChangeNoResult() {
        GenerationRequest req = small("a lighthouse at dusk").withNegativePrompt("fog").withSeed(11);
        ReleaseCheckingBackend checked = new ReleaseCheckingBackend(backend);
        try (StableDiffusionPipeline released = StableDiffusionPipeline.load(dir, null, null, checked)) {
            GenerationResult a = released.generate(req, StepListener.NONE);
            GenerationResult b = folder.generate(req, StepListener.NONE);
            assertArrayEquals(b.latents(), a.latents());
            assertArrayEquals(b.images().get(0).data(), a.images().get(0).data());
            assertTrue(checked.peakBytes() * 4 < checked.madeBytes(),
                    "peak of live results " + checked.peakBytes() + " bytes, made " + checked.madeBytes());
        }
    }

    @Test
    void aStepLeavesNothingLiveBehind() {
        long[] live = new long[2];
        int[] steps = {2, 6};
        for (int i = 0; i < 2; i++) {
            ReleaseCheckingBackend checked = new ReleaseCheckingBackend(backend);
            try (StableDiffusionPipeline p = StableDiffusionPipeline.load(dir, null, null, checked)) {
                p.generate(small("a lighthouse").withNegativePrompt("fog").withSteps(steps[i]).withSeed(3), StepListener.NONE);
                live[i] = checked.liveBytes();
            }
        }
        assertEquals(live[0], live[1], "bytes of device results still live after 2 and after 6 steps");
    }

    @Test
    void theVaeCanRunOnABackendOfItsOwn() {
        GenerationRequest req = small("a lighthouse at dusk").withSeed(12);
        ReleaseCheckingBackend vaeBackend = new ReleaseCheckingBackend(backend);
        try (StableDiffusionPipeline split = StableDiffusionPipeline.load(dir, null, null, null, backend, vaeBackend)) {
            GenerationResult a = split.generate(req, StepListener.NONE);
            GenerationResult b = folder.generate(req, StepListener.NONE);
            assertArrayEquals(b.images().get(0).data(), a.images().get(0).data());

            // Exactly a decode's work went to the VAE's backend: the same bytes as decoding the latents alone.
            ReleaseCheckingBackend alone = new ReleaseCheckingBackend(backend);
            var vae = new dev.ldm4j.diffusion.vae.AutoencoderKL(dev.ldm4j.nn.Params.root(split.spec().vaeWeights(), alone), split.spec().vae());
            float[] z = a.latents().clone();
            for (int i = 0; i < z.length; i++) {
                z[i] /= (float) split.spec().vae().scalingFactor();
            }
            vae.decode(dev.ldm4j.tensor.Tensor.of(z, 1, 4, 16, 16));
            assertTrue(alone.madeBytes() > 0);
            assertEquals(alone.madeBytes(), vaeBackend.madeBytes());
        }
    }

    @Test
    void guidanceAtMostOneIgnoresTheNegativePrompt() {
        GenerationRequest base = small("a lighthouse").withGuidanceScale(1.0);
        GenerationResult a = folder.generate(base.withNegativePrompt("fog"), StepListener.NONE);
        GenerationResult b = folder.generate(base.withNegativePrompt("something else entirely"), StepListener.NONE);
        assertArrayEquals(a.latents(), b.latents());
        assertEquals(null, a.negative(), "no unconditional branch was encoded");
        GenerationResult guided = folder.generate(base.withGuidanceScale(7.5).withNegativePrompt("fog"), StepListener.NONE);
        assertFalse(Arrays.equals(a.latents(), guided.latents()), "guidance changes the result");
    }

    @Test
    void aBatchIsTheSingleRunRepeatedForEachRowOfNoise() {
        float[] one = new TorchGenerator(7).randn(1, 4, 16, 16);
        float[] two = new float[2 * one.length];
        System.arraycopy(one, 0, two, 0, one.length);
        System.arraycopy(one, 0, two, one.length, one.length);
        GenerationRequest req = small("a cat").withNegativePrompt("blurry");
        GenerationResult single = folder.generate(req, folder.scheduler("ddim", false), new ReplayNoise().add(one, 1, 4, 16, 16), StepListener.NONE);
        GenerationResult batch = folder.generate(req.withBatchSize(2), folder.scheduler("ddim", false), new ReplayNoise().add(two, 2, 4, 16, 16), StepListener.NONE);
        assertEquals(2, batch.images().size());
        for (int row = 0; row < 2; row++) {
            float[] got = Arrays.copyOfRange(batch.latents(), row * one.length, (row + 1) * one.length);
            double err = PipelineConformanceTest.relativeError(got, single.latents());
            assertTrue(err <= 1e-5, "batch row " + row + " differs from the single run by " + err);
        }
    }

    @Test
    void seedGivesTheSameImageTwiceAndAnotherSeedAnotherImage() {
        GenerationRequest req = small("a cat").withSeed(5);
        List<Integer> steps = new ArrayList<>();
        GenerationResult a = folder.generate(req, (step, total, t, latents, nanos) -> steps.add(step));
        GenerationResult b = folder.generate(req, StepListener.NONE);
        GenerationResult c = folder.generate(req.withSeed(6), StepListener.NONE);
        assertEquals(List.of(1, 2, 3), steps);
        assertArrayEquals(a.images().get(0).data(), b.images().get(0).data());
        assertFalse(Arrays.equals(a.images().get(0).data(), c.images().get(0).data()));
        assertEquals(3, a.timings().stepNanos().length);
        assertTrue(a.timings().textEncodingNanos() > 0 && a.timings().decodingNanos() > 0);
    }

    @Test
    void clipSkipChangesTheConditioningAndIsBoundedByTheLayerCount() {
        GenerationResult plain = folder.generate(small("a cat"), StepListener.NONE);
        GenerationResult skipped = folder.generate(small("a cat").withClipSkip(1), StepListener.NONE);
        assertFalse(Arrays.equals(plain.latents(), skipped.latents()));
        int layers = folder.spec().textEncoder().numHiddenLayers();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> folder.generate(small("a cat").withClipSkip(layers), StepListener.NONE));
        assertTrue(e.getMessage().contains("clip skip " + layers), e.getMessage());
    }

    @Test
    void sizeThatIsNotAMultipleOfTheVaeFactorIsRejectedBeforeAnyWork() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> folder.generate(small("a cat").withSize(100, 128), StepListener.NONE));
        assertTrue(e.getMessage().contains("100x128") && e.getMessage().contains("multiples of 8"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
        RgbImage odd = new RgbImage(100, 64, new float[100 * 64 * 3]);
        e = assertThrows(IllegalArgumentException.class, () -> folder.generate(GenerationRequest.imageToImage("a cat", odd), StepListener.NONE));
        assertTrue(e.getMessage().contains("init image size 100x64") && e.getMessage().contains("multiples of 8"), e.getMessage());
    }

    /** Requests that cannot run fail with typed errors that name the problem, not a command-line flag. */
    @Test
    void requestsThatCannotRunFailWithTypedErrorsNamingNoFlag() {
        RgbImage image = new RgbImage(64, 64, new float[64 * 64 * 3]);
        NoDenoisingStepException none = assertThrows(NoDenoisingStepException.class,
                () -> folder.generate(GenerationRequest.imageToImage("a cat", image).withSteps(3).withStrength(0.1).withScheduler("ddim", false),
                        StepListener.NONE));
        assertEquals(3, none.steps());
        assertEquals(0.1, none.strength());
        assertFalse(none.getMessage().contains("--"), none.getMessage());
        UnsupportedRequestException karras = assertThrows(UnsupportedRequestException.class, () -> folder.scheduler(null, true));
        assertEquals(UnsupportedRequestException.Part.KARRAS, karras.part());
        assertFalse(karras.getMessage().contains("--"), karras.getMessage());
    }

    @Test
    void outputSizeIsAnyMultipleOfEightAndDefaultsToTheModelsSampleSize() {
        int side = folder.spec().unet().sampleSize() * 8;
        assertArrayEquals(new int[] {side, side}, folder.outputSize(GenerationRequest.textToImage("x")));
        assertArrayEquals(new int[] {136, 72}, folder.outputSize(GenerationRequest.textToImage("x").withSize(136, 72)));
        assertArrayEquals(new int[] {104, 72}, folder.outputSize(GenerationRequest.imageToImage("x", new RgbImage(104, 72, new float[104 * 72 * 3]))));
    }

    /** Sizes that are multiples of 8 but not of 64 (latent sides not multiples of 8) run, text-to-image and through the VAE encoder. */
    @Test
    void sidesThatAreNotMultiplesOfSixtyFourRunInBothModes() {
        GenerationResult t2i = folder.generate(small("a cat").withSize(136, 72).withSeed(4), StepListener.NONE);
        RgbImage image = t2i.images().get(0);
        assertEquals(136, image.width());
        assertEquals(72, image.height());
        assertEquals(4 * 9 * 17, t2i.latents().length);

        GenerationRequest i2i = GenerationRequest.imageToImage("a cat", image).withSteps(4).withStrength(0.5)
                .withScheduler("ddim", false).withSeed(5);
        GenerationResult out = folder.generate(i2i, StepListener.NONE);
        assertEquals(136, out.images().get(0).width());
        assertEquals(72, out.images().get(0).height());
        assertEquals(4 * 9 * 17, out.latents().length);
        for (float v : out.latents()) {
            assertTrue(Float.isFinite(v), "finite latents");
        }
    }

    @Test
    void strengthThatLeavesNoStepIsRejected() {
        RgbImage gray = new RgbImage(128, 128, new float[128 * 128 * 3]);
        GenerationRequest req = GenerationRequest.imageToImage("a cat", gray).withSteps(3).withStrength(0.2).withScheduler("ddim", false);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> folder.generate(req, StepListener.NONE));
        assertTrue(e.getMessage().contains("strength 0.2"), e.getMessage());
    }

    @Test
    void longPromptReportsTheTruncatedWords() {
        GenerationResult r = folder.generate(small("cat ".repeat(80) + "zebra"), StepListener.NONE);
        assertTrue(r.prompt().truncated());
        assertTrue(r.prompt().droppedWords().contains("zebra"), r.prompt().droppedWords().toString());
    }

    @Test
    void eightBitConversionClampsThenRoundsToNearest() {
        RgbImage img = new RgbImage(1, 2, new float[] {-0.5f, 0f, 1.5f, 0.25f, 0.75f, 1f});
        assertArrayEquals(new byte[] {0, 0, (byte) 255, 64, (byte) 191, (byte) 255}, img.toRgb8()); // 63.75 -> 64, 191.25 -> 191
    }
}
