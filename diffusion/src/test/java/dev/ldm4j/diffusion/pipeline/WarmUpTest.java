// StableDiffusionPipeline.warmUp, on the built-in models: it runs only for latents of 64 x 64 and more, it runs the
// U-Net (its weight file's pages are mapped afterwards, read from /proc/self/smaps on Linux), also one with a guidance
// embedding (time_cond_proj_dim, the LCM student), and it leaves nothing behind: the image a warmed-up pipeline makes
// is the one a fresh pipeline makes.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.weights.ResidentMemory;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WarmUpTest {
    static final Path MODELS = Path.of("..", "models");

    @Test
    void warmsUpLargeLatentsOnlyAndLeavesTheImageAsItWas() throws IOException {
        GenerationRequest request = GenerationRequest.textToImage("a small red circle in the top left").withSeed(3).withSteps(2);
        try (Backend cpu = Backends.create("cpu");
             StableDiffusionPipeline fresh = StableDiffusionPipeline.load(MODELS.resolve("shapes"), null, null, cpu);
             StableDiffusionPipeline warmed = StableDiffusionPipeline.load(MODELS.resolve("shapes"), null, null, cpu)) {
            Path unet = MODELS.resolve("shapes/unet/diffusion_pytorch_model.safetensors");
            assertFalse(warmed.warmUp(64, 64), "a 64x64 image (16 x 16 latent) is not warmed up");
            assertFalse(warmed.warmUp(252, 256), "nor a 252x256 one (63 x 64 latent)");
            long before = ResidentMemory.available() ? ResidentMemory.kb(unet) : 0;
            assertTrue(warmed.warmUp(256, 256), "a 256x256 image (64 x 64 latent) is");
            if (ResidentMemory.available()) {
                long after = ResidentMemory.kb(unet);
                assertTrue(before < 1024 && after >= 8 * 1024, "U-Net file resident: " + before + " kB before the warm-up, "
                        + after + " kB after (of 12 MB)");
            }
            RgbImage expected = fresh.generate(request, StepListener.NONE).images().get(0);
            RgbImage after = warmed.generate(request, StepListener.NONE).images().get(0);
            assertArrayEquals(expected.data(), after.data());
        }
    }

    @Test
    void warmsUpAUNetWithAGuidanceEmbedding() {
        try (Backend cpu = Backends.create("cpu");
             StableDiffusionPipeline lcm = StableDiffusionPipeline.load(MODELS.resolve("shapes-lcm"), null, null, cpu)) {
            assertTrue(lcm.spec().unet().hasGuidanceEmbedding());
            assertTrue(lcm.warmUp(256, 256));
        }
    }
}
