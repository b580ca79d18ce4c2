// The pipeline with another autoencoder (setVae, VaeFolder): with the taesd-tiny AutoencoderTiny on sd1-tiny,
// image-to-image takes the tiny encoder's latents as they are and so draws one tensor fewer than with the model's
// AutoencoderKL (whose posterior is sampled), as diffusers' retrieve_latents does; text-to-image decodes with it, so
// the image equals AutoencoderTiny.decode of the run's latents; the latent shape follows the autoencoder in use.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.random.NoiseSource;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.vae.AutoencoderTiny;
import dev.ldm4j.diffusion.vae.VaeFolder;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TinyAutoencoderPipelineTest {
    /** A generator that lists the shapes drawn. */
    private static final class Counting implements NoiseSource {
        private final NoiseSource inner = new TorchGenerator(7);
        final List<String> shapes = new ArrayList<>();

        @Override
        public float[] randn(int... shape) {
            shapes.add(Arrays.toString(shape));
            return inner.randn(shape);
        }
    }

    @Test
    void imageToImageTakesTheTinyLatentsWithoutADrawAndDecodesWithIt() {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        Path sd1 = SharedFixtures.conformance().resolve("sd1-tiny");
        Path taesd = SharedFixtures.conformance().resolve("taesd-tiny");
        float[] hwc = new float[64 * 48 * 3];
        for (int i = 0; i < hwc.length; i++) {
            hwc[i] = (i % 251) / 250f;
        }
        GenerationRequest request = GenerationRequest.imageToImage("a red apple", new RgbImage(64, 48, hwc)).withSteps(4).withStrength(0.5);
        try (Backend cpu = Backends.create("cpu");
             StableDiffusionPipeline p = StableDiffusionPipeline.load(sd1, null, null, cpu)) {
            Counting kl = new Counting();
            p.generate(request, p.scheduler("ddim", false), kl, (step, total, t, latents, nanos) -> { });
            assertEquals(List.of("[1, 4, 6, 8]", "[1, 4, 6, 8]"), kl.shapes, "AutoencoderKL: the posterior sample, then the noise");

            p.setVae(VaeFolder.open(taesd, cpu));
            AutoencoderTiny tiny = assertInstanceOf(AutoencoderTiny.class, p.vae());
            Counting drawn = new Counting();
            GenerationResult r = p.generate(request, p.scheduler("ddim", false), drawn, (step, total, t, latents, nanos) -> { });
            assertEquals(List.of("[1, 4, 6, 8]"), drawn.shapes, "AutoencoderTiny: the noise only");

            float[] decoded = tiny.decode(Tensor.of(r.latents(), 1, 4, 6, 8)).toFloatArray();      // scaling factor 1
            RgbImage image = r.images().get(0);
            for (int c = 0; c < 3; c++) {
                for (int i = 0; i < 48 * 64; i++) {
                    float v = Math.min(Math.max(decoded[c * 48 * 64 + i] / 2f + 0.5f, 0f), 1f);
                    assertEquals(v, image.get(i % 64, i / 64, c), 1e-6f);
                }
            }
            assertArrayEquals(new int[] {1, 4, 6, 8}, DiffusionModel.of(p).latentShape(request));
        }
    }
}
