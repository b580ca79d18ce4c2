// ./ldm4j generate with an LCM-distilled diffusers folder (a U-Net with time_cond_proj_dim), made here of
// lcm-tiny's unet/ and sd1-tiny's other parts: diffusers' LatentConsistencyModelPipeline defaults (4 steps,
// guidance 8.5, the LCM scheduler from the folder's config) written into the PNG, and the flags that mean
// nothing for such a model (--negative-prompt, --image) refused in one line before it loads.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GenerateLcmTest {
    /** lcm-tiny's U-Net beside sd1-tiny's text encoder, VAE, tokenizer and (PNDM) scheduler config. */
    private static Path lcmFolder(Path dir) throws IOException {
        Path conf = SharedFixtures.conformance();
        assumeTrue(SharedFixtures.available() && Files.isDirectory(conf.resolve("lcm-tiny")), "../shared (lcm-tiny) is absent");
        Path model = Files.createDirectories(dir.resolve("lcm-model"));
        Files.copy(conf.resolve("sd1-tiny/model_index.json"), model.resolve("model_index.json"));
        for (String part : new String[] {"text_encoder", "vae", "tokenizer", "scheduler"}) {
            Files.createSymbolicLink(model.resolve(part), conf.resolve("sd1-tiny").resolve(part).toAbsolutePath());
        }
        Files.createSymbolicLink(model.resolve("unet"), conf.resolve("lcm-tiny/unet").toAbsolutePath());
        return model;
    }

    @Test
    void anLcmFolderRunsWithTheLcmPipelinesDefaults(@TempDir Path dir) throws IOException {
        Path model = lcmFolder(dir);
        Path png = dir.resolve("lcm.png");
        CliTest.Result r = run("generate", "--model", model.toString(), "--prompt", "a red apple", "--seed", "5", "--output", png.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("(4 steps"), r.err());
        String info = run("info", png.toString()).out();
        assertTrue(info.contains("Steps: 4") && info.contains("CFG scale: 8.5") && info.contains("Sampler: LCM"), info);

        // The PNG's settings run again to the same image.
        Path again = dir.resolve("again.png");
        assertEquals(0, run("generate", "--from-png", png.toString(), "--model", model.toString(), "--output", again.toString()).code());
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(png), Files.readAllBytes(again)));

        // --guidance reaches the U-Net through its embedding: another scale, another image.
        Path other = dir.resolve("other.png");
        assertEquals(0, run("generate", "--model", model.toString(), "--prompt", "a red apple", "--seed", "5", "--guidance", "2",
                "--output", other.toString()).code());
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(png), Files.readAllBytes(other)));
    }

    @Test
    void aNegativePromptOrAnInitImageIsRefusedBeforeLoading(@TempDir Path dir) throws IOException {
        Path model = lcmFolder(dir);
        assertOneLineError(run("generate", "--model", model.toString(), "--prompt", "x", "--negative-prompt", "blurry",
                "--output", dir.resolve("n.png").toString()), "--negative-prompt has no effect");
        Path image = dir.resolve("in.png");
        Files.write(image, new byte[] {1});
        assertOneLineError(run("generate", "--model", model.toString(), "--prompt", "x", "--image", image.toString(),
                "--output", dir.resolve("i.png").toString()), "--image: image-to-image with an LCM-distilled U-Net");
        assertFalse(Files.exists(dir.resolve("n.png")) || Files.exists(dir.resolve("i.png")));
    }
}
