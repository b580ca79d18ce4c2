// The hires fix on the tiny SD 1.x model: the same seed gives the same image, at the scaled size; the second pass
// starts at image-to-image's noise level for its strength and runs int(steps * strength) steps; in pixels it is the
// first pass followed by image-to-image of its upscaled image, bit for bit; a batch is upscaled image by image; restart
// sampling runs in both passes; bad requests are refused.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.RestartScheduler;
import dev.ldm4j.diffusion.schedulers.Scheduler;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class HiresFixTest {
    private static StableDiffusionPipeline pipe;

    @BeforeAll
    static void load() {
        org.junit.jupiter.api.Assumptions.assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        Backend backend = Backends.create("cpu");
        pipe = StableDiffusionPipeline.load(SharedFixtures.conformance().resolve("sd1-tiny"), null, null, backend);
    }

    @AfterAll
    static void close() {
        if (pipe != null) {
            pipe.close();
        }
    }

    private static GenerationRequest request() {
        return GenerationRequest.textToImage("a red apple on a table").withSteps(4).withSize(64, 48).withSeed(3);
    }

    private static GenerationResult hires(GenerationRequest r, HiresFix h, Scheduler s, StepListener listener) {
        return pipe.generateHires(r, h, SamplingOptions.DEFAULT, s, new TorchGenerator(r.seed()), listener);
    }

    /** The noise level of every model evaluation, and where each pass's steps begin (the step counter back at 1). */
    private static final class Sigmas implements StepListener {
        final List<Double> sigmas = new ArrayList<>();
        final List<Integer> passStarts = new ArrayList<>();

        @Override
        public void onStep(int step, int total, double timestep, float[] latents, long nanos) {
        }

        @Override
        public boolean wantsPredictions() {
            return true;
        }

        @Override
        public void onPrediction(int step, int total, double sigma, float[] predictedX0) {
            if (step == 1) {
                passStarts.add(sigmas.size());
            }
            sigmas.add(sigma);
        }
    }

    @Test
    void theSameSeedGivesTheSameImageAtTheScaledSize() {
        HiresFix h = new HiresFix(2, 0.6, 0, HiresFix.Upscale.LATENT);
        GenerationResult a = hires(request(), h, pipe.scheduler("euler", false), StepListener.NONE);
        GenerationResult b = hires(request(), h, pipe.scheduler("euler", false), StepListener.NONE);
        assertEquals(128, a.images().get(0).width());
        assertEquals(96, a.images().get(0).height());
        assertEquals(4 * 12 * 16, a.latents().length);
        assertArrayEquals(a.latents(), b.latents());
        assertArrayEquals(a.images().get(0).data(), b.images().get(0).data());
        assertArrayEquals(new int[] {128, 96}, pipe.outputSize(request(), h));
        assertArrayEquals(new int[] {96, 72}, pipe.outputSize(request(), new HiresFix(1.5, 0.6, 0, HiresFix.Upscale.LATENT)));
        GenerationResult other = hires(request(), new HiresFix(2, 0.6, 0, HiresFix.Upscale.LATENT_BICUBIC), pipe.scheduler("euler", false),
                StepListener.NONE);
        assertFalse(java.util.Arrays.equals(a.latents(), other.latents()), "the upscale mode changes the result");
    }

    @Test
    void theSecondPassStartsAtTheImageToImageNoiseLevelOfItsStrength() {
        for (double strength : new double[] {0.5, 0.75, 1.0}) {
            int hiresSteps = 8;
            Sigmas seen = new Sigmas();
            hires(request(), new HiresFix(2, strength, hiresSteps, HiresFix.Upscale.LATENT), pipe.scheduler("euler", false), seen);
            assertEquals(List.of(0, 4), seen.passStarts);
            Scheduler fresh = pipe.scheduler("euler", false);
            fresh.setTimesteps(hiresSteps);
            int run = (int) (hiresSteps * strength);                                            // diffusers' get_timesteps
            assertEquals(run, seen.sigmas.size() - 4, "steps of the second pass at strength " + strength);
            assertEquals(fresh.sigmaAt(hiresSteps - run), seen.sigmas.get(4), 0, "first sigma at strength " + strength);
        }
    }

    @Test
    void inPixelsItIsTheFirstPassThenImageToImageOfItsUpscaledImage() {
        GenerationRequest r = request().withScheduler("ddim", false);
        HiresFix h = new HiresFix(1.5, 0.7, 6, HiresFix.Upscale.PIXEL);
        GenerationResult fixed = hires(r, h, pipe.scheduler("ddim", false), StepListener.NONE);

        TorchGenerator noise = new TorchGenerator(r.seed());
        GenerationResult low = pipe.generate(r, SamplingOptions.DEFAULT, pipe.scheduler("ddim", false), noise, StepListener.NONE);
        RgbImage up = HiresFix.upscaleImage(low.images().get(0), 96, 72);
        GenerationRequest img2img = GenerationRequest.imageToImage(r.prompt(), up).withSeed(r.seed()).withSteps(6).withStrength(0.7);
        GenerationResult high = pipe.generate(img2img, SamplingOptions.DEFAULT, pipe.scheduler("ddim", false), noise, StepListener.NONE);
        assertArrayEquals(high.latents(), fixed.latents());
        assertArrayEquals(high.images().get(0).data(), fixed.images().get(0).data());
    }

    @Test
    void aBatchIsUpscaledImageByImage() {
        for (HiresFix.Upscale mode : new HiresFix.Upscale[] {HiresFix.Upscale.LATENT_NEAREST, HiresFix.Upscale.PIXEL}) {
            GenerationResult r = hires(request().withBatchSize(2).withSteps(2), new HiresFix(2, 0.5, 0, mode), pipe.scheduler("euler", false),
                    StepListener.NONE);
            assertEquals(2, r.images().size(), mode.label());
            assertEquals(2 * 4 * 12 * 16, r.latents().length, mode.label());
            assertFalse(java.util.Arrays.equals(r.images().get(0).data(), r.images().get(1).data()), mode.label() + ": two different images");
        }
    }

    @Test
    void restartSamplingRunsInBothPasses() {
        Sigmas seen = new Sigmas();
        RestartScheduler restart = new RestartScheduler(pipe.scheduler("euler", false), new RestartScheduler.Settings(0.5, 3, 1, 2));
        GenerationResult r = hires(request().withSteps(6), new HiresFix(2, 1.0, 6, HiresFix.Upscale.LATENT), restart, seen);
        assertEquals(List.of(0, 8), seen.passStarts, "6 steps and one restart pass of 2 in each pass");
        assertEquals(128, r.images().get(0).width());
    }

    @Test
    void badRequestsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new HiresFix(0.5, 0.5, 0, HiresFix.Upscale.LATENT));
        assertThrows(IllegalArgumentException.class, () -> new HiresFix(2, 0, 0, HiresFix.Upscale.LATENT));
        assertThrows(IllegalArgumentException.class, () -> new HiresFix(2, 0.5, -1, HiresFix.Upscale.LATENT));
        RgbImage image = new RgbImage(64, 64, new float[64 * 64 * 3]);
        assertThrows(UnsupportedRequestException.class, () -> hires(GenerationRequest.imageToImage("x", image).withSteps(2),
                new HiresFix(2, 0.5, 0, HiresFix.Upscale.LATENT), pipe.scheduler("euler", false), StepListener.NONE));
    }
}
