// StableDiffusionPipeline.setReleaseWeightPages, on the built-in shapes model (a diffusers folder: one weight file per
// component, fp16, read in place from the mapping). With it on (the default), after generate() the U-Net's and the
// text encoder's files are no longer resident in this process while the VAE's, read last, is; with it off, the U-Net's
// file stays resident. The image is the same either way. Residency is read from /proc/self/smaps (Linux; skipped elsewhere).
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.weights.ResidentMemory;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ReleaseWeightPagesTest {
    static final Path SHAPES = Path.of("..", "models", "shapes");

    @Test
    void generateDropsTheUNetAndTextEncoderPagesAndKeepsTheImage() throws IOException {
        assumeTrue(ResidentMemory.available(), "needs Linux's /proc/self/smaps");
        assertTrue(Files.isDirectory(SHAPES), SHAPES.toAbsolutePath() + " (the built-in model) is missing");
        Path unet = SHAPES.resolve("unet/diffusion_pytorch_model.safetensors");
        Path text = SHAPES.resolve("text_encoder/model.safetensors");
        Path vae = SHAPES.resolve("vae/diffusion_pytorch_model.safetensors");
        GenerationRequest request = GenerationRequest.textToImage("a small red circle in the top left").withSeed(3).withSteps(2);
        try (Backend cpu = Backends.create("cpu");
             StableDiffusionPipeline pipe = StableDiffusionPipeline.load(SHAPES, null, null, cpu)) {
            RgbImage released = pipe.generate(request, StepListener.NONE).images().get(0);
            long unetKb = ResidentMemory.kb(unet), textKb = ResidentMemory.kb(text), vaeKb = ResidentMemory.kb(vae);
            assertTrue(unetKb <= 64, "U-Net file still resident after generate: " + unetKb + " kB of 13 MB");
            assertTrue(textKb <= 64, "text encoder file still resident after generate: " + textKb + " kB");
            assertTrue(vaeKb >= 256, "the VAE's file, read by the decode, has only " + vaeKb + " kB resident");

            pipe.setReleaseWeightPages(false);
            RgbImage kept = pipe.generate(request, StepListener.NONE).images().get(0);
            long unetKept = ResidentMemory.kb(unet);
            assertTrue(unetKept >= 8 * 1024, "with release off, only " + unetKept + " kB of the 13 MB U-Net file are resident");
            assertArrayEquals(released.data(), kept.data(), "releasing pages changes the image");
        }
    }
}
