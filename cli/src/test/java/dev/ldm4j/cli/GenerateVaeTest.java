// generate --vae DIR on the tiny SD 1.x model: the taesd-tiny AutoencoderTiny (4 latent channels, as the U-Net's) decodes
// the run's final latents (the PNG equals AutoencoderTiny.decode of the saved latents within one level) and its name is
// in the PNG's parameters (and --from-png without --vae warns); it encodes --image; with --trace it draws each step's x0 at image size. A model folder given
// as --vae is found through its vae/. Refused in one line: a folder of another class, a missing folder, an
// autoencoder whose latent channels are not the U-Net's, and --vae-tiling with an AutoencoderTiny.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.vae.AutoencoderTiny;
import dev.ldm4j.diffusion.vae.AutoencoderTinyConfig;
import dev.ldm4j.diffusion.vae.VaeFolder;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GenerateVaeTest {
    private static Path fixture(String name) {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        return SharedFixtures.conformance().resolve(name);
    }

    @Test
    void theTinyAutoencoderDecodesTheFinalLatents(@TempDir Path dir) throws IOException {
        Path model = fixture("sd1-tiny");
        Path taesd = fixture("taesd-tiny");
        Path png = dir.resolve("out.png");
        Path latents = dir.resolve("latents.safetensors");
        CliTest.Result r = run("generate", "--model", model.toString(), "--vae", taesd.toString(), "--prompt", "a red apple",
                "--width", "64", "--height", "48", "--steps", "2", "--seed", "3", "--output", png.toString(), "--save-latents", latents.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("decoding with the AutoencoderTiny of " + taesd), r.err());
        assertTrue(PngMetadata.read(png).text().get("parameters").contains("VAE: taesd-tiny"), PngMetadata.read(png).text().toString());
        CliTest.Result again = run("generate", "--from-png", png.toString(), "--model", model.toString(), "--output",
                dir.resolve("again.png").toString());
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("was decoded with the VAE 'taesd-tiny', of which it holds only the name"), again.err());
        assertTrue(!again.err().contains("ignored, ldm4j has no such setting"), again.err());

        BufferedImage img = ImageIO.read(png.toFile());
        try (Backend cpu = Backends.create("cpu");
             VaeFolder vae = VaeFolder.open(taesd, cpu);
             SafetensorsFile saved = SafetensorsFile.open(latents)) {
            Tensor z = saved.tensor("latents");                                            // scaled; TAESD's scaling factor is 1
            assertEquals(List.of(1, 4, 6, 8), java.util.Arrays.stream(z.shape()).boxed().toList());
            float[] x = vae.autoencoder().decode(Tensor.of(z.toFloatArray(), z.shape())).toFloatArray(); // [1, 3, 48, 64]
            int worst = 0;
            for (int y = 0; y < 48; y++) {
                for (int xx = 0; xx < 64; xx++) {
                    int rgb = img.getRGB(xx, y);
                    for (int c = 0; c < 3; c++) {
                        double v = Math.min(Math.max(x[(c * 48 + y) * 64 + xx] / 2 + 0.5, 0), 1) * 255;
                        worst = Math.max(worst, Math.abs((rgb >> (16 - 8 * c) & 0xff) - (int) Math.round(v)));
                    }
                }
            }
            assertTrue(worst <= 1, "PNG vs AutoencoderTiny.decode of the saved latents: " + worst + " levels apart");
        }
    }

    @Test
    void itEncodesTheStartingImageAndDrawsTheTraceAtImageSize(@TempDir Path dir) throws IOException {
        Path model = fixture("sd1-tiny");
        Path taesd = fixture("taesd-tiny");
        Path start = dir.resolve("start.png");
        CliTest.Result first = run("generate", "--model", model.toString(), "--prompt", "a", "--width", "64", "--height", "64", "--steps", "2",
                "--seed", "1", "--output", start.toString());
        assertEquals(0, first.code(), first.err());
        CliTest.Result img2img = run("generate", "--model", model.toString(), "--vae", taesd.toString(), "--image", start.toString(),
                "--prompt", "a", "--steps", "4", "--strength", "0.5", "--seed", "1", "--output", dir.resolve("i2i.png").toString());
        assertEquals(0, img2img.code(), img2img.err());

        Path trace = dir.resolve("trace");
        CliTest.Result traced = run("generate", "--model", model.toString(), "--vae", taesd.toString(), "--prompt", "a", "--width", "128",
                "--height", "64", "--steps", "2", "--scheduler", "euler", "--seed", "1", "--trace", trace.toString(),
                "--output", dir.resolve("t.png").toString());
        assertEquals(0, traced.code(), traced.err());
        assertTrue(traced.err().contains("decoded by --vae"), traced.err());
        BufferedImage x0 = ImageIO.read(trace.resolve("x0.png").toFile());
        assertEquals(2 * (128 + 2) + 2, x0.getWidth());                                    // two tiles of the image's size, not 64x32 projections
        assertEquals(64 + 2 + 2, x0.getHeight());
    }

    @Test
    void aModelFolderIsReadThroughItsVaeFolder(@TempDir Path dir) {
        Path model = fixture("sd1-tiny");
        CliTest.Result r = run("generate", "--model", model.toString(), "--vae", model.toString(), "--prompt", "a", "--width", "64",
                "--height", "64", "--steps", "1", "--seed", "1", "--output", dir.resolve("kl.png").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("decoding with the AutoencoderKL of " + model.resolve("vae")), r.err());
    }

    @Test
    void refusals(@TempDir Path dir) throws IOException {
        Path model = fixture("sd1-tiny");
        String out = dir.resolve("x.png").toString();
        assertOneLineError(run("generate", "--model", model.toString(), "--vae", model.resolve("unet").toString(), "--prompt", "a",
                "--output", out), "--vae " + model.resolve("unet/config.json") + ": _class_name 'UNet2DConditionModel'");
        assertOneLineError(run("generate", "--model", model.toString(), "--vae", dir.resolve("nowhere").toString(), "--prompt", "a",
                "--output", out), "no such folder");
        assertOneLineError(run("generate", "--model", model.toString(), "--vae", fixture("taesd-tiny").toString(), "--vae-tiling",
                "--prompt", "a", "--output", out), "leave out --vae-tiling");

        Path wide = dir.resolve("taesd16");                                                // an AutoencoderTiny for 16-channel latents
        Files.createDirectories(wide);
        Files.writeString(wide.resolve("config.json"), """
                {"_class_name": "AutoencoderTiny", "latent_channels": 16, "encoder_block_out_channels": [8, 8, 8, 8],
                 "decoder_block_out_channels": [8, 8, 8, 8], "num_encoder_blocks": [1, 1, 1, 1], "num_decoder_blocks": [1, 1, 1, 1]}
                """);
        AutoencoderTinyConfig config = AutoencoderTinyConfig.fromJson(dev.ldm4j.weights.Json.parseObject(wide.resolve("config.json")));
        try (Backend cpu = Backends.create("cpu")) {
            Params p = Params.initializing(cpu, (key, shape) -> Tensor.of(new float[java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)], shape));
            new AutoencoderTiny(p, config);
            SafetensorsWriter.write(wide.resolve(VaeFolder.WEIGHTS), Map.copyOf(p.created()));
        }
        assertOneLineError(run("generate", "--model", model.toString(), "--vae", wide.toString(), "--prompt", "a", "--output", out),
                "this AutoencoderTiny has 16 latent channels and the model's U-Net 4");
        assertEquals(false, Files.exists(dir.resolve("x.png")));
    }
}
