// generate --trace DIR: the pictures are valid PNGs of the stated sizes (one tile per step, the schedule plot, one
// attention tile per prompt token), for a deterministic and two SDE samplers; the cheap latent-to-RGB projection reproduces a linear image exactly; files that
// exist are not replaced without --overwrite, and --interpolate is refused.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.pipeline.RgbImage;
import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GenerateTraceTest {
    private static String tiny() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        return SharedFixtures.conformance().resolve("sd1-tiny").toString();
    }

    @Test
    void thePicturesArePngsOfTheStatedSizes(@TempDir Path dir) throws IOException {
        String model = tiny();
        for (String scheduler : new String[] {"ddim", "pc_langevin"}) {
            Path trace = dir.resolve(scheduler);
            CliTest.Result r = run("generate", "--model", model, "--prompt", "a red apple", "--width", "64", "--height", "64", "--seed", "1",
                    "--steps", "4", "--scheduler", scheduler, "--trace", trace.toString(), "--output", dir.resolve(scheduler + ".png").toString());
            assertEquals(0, r.code(), r.err());
            int evaluations = scheduler.equals("ddim") ? 4 : 8;                  // pc_langevin: a corrector and a predictor per level
            BufferedImage x0 = ImageIO.read(trace.resolve("x0.png").toFile());
            // 8x8 latents drawn 8 times larger, up to 10 tiles a row with a 2-pixel gutter
            int columns = Math.min(evaluations, 10);
            assertEquals(columns * (64 + 2) + 2, x0.getWidth(), scheduler);
            assertEquals(((evaluations + 9) / 10) * (64 + 2) + 2, x0.getHeight(), scheduler);
            BufferedImage plot = ImageIO.read(trace.resolve("schedule.png").toFile());
            assertEquals(640, plot.getWidth());
            assertEquals(400, plot.getHeight());
            assertTrue(Files.isRegularFile(trace.resolve("attention.png")), scheduler);
        }
        // The built-in model, 64x64: seven tokens (a red circle in the top left), tiles of 128 x (128 + 16) in one row.
        Path shapes = dir.resolve("shapes");
        CliTest.Result r = run("generate", "--model", "shapes", "--prompt", "a red circle in the top left", "--seed", "1", "--steps", "5",
                "--scheduler", "sde_euler_vp", "--trace", shapes.toString(), "--output", dir.resolve("shapes.png").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("attention.png (7 tokens, 35 layer maps)"), r.err());
        BufferedImage attention = ImageIO.read(shapes.resolve("attention.png").toFile());
        assertEquals(7 * (128 + 2) + 2, attention.getWidth());
        assertEquals(128 + 16 + 2 + 2, attention.getHeight());
        assertOneLineError(run("generate", "--model", model, "--prompt", "a", "--trace", dir.resolve("ddim").toString(),
                "--output", dir.resolve("again.png").toString()), "x0.png exists; pass --overwrite");
        assertOneLineError(run("generate", "--model", model, "--prompt", "a", "--trace", dir.resolve("i").toString(), "--prompt-mix", "b",
                "--interpolate", "2", "--output", dir.resolve("i.png").toString()), "--trace pictures one run");
        assertEquals(false, Files.exists(dir.resolve("i/x0.png")));
    }

    @Test
    void theProjectionReproducesAnImageThatIsLinearInTheLatents() {
        int h = 3, w = 4, c = 4, factor = 2;
        float[] latents = new float[c * h * w];
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < latents.length; i++) {
            latents[i] = (float) r.nextGaussian();
        }
        double[][] truth = {{0.1, 0.2, -0.1}, {0.05, -0.1, 0.2}, {-0.1, 0.1, 0.1}, {0.2, 0, -0.05}, {0.5, 0.4, 0.5}};
        float[] pixels = new float[h * factor * w * factor * 3];
        for (int y = 0; y < h * factor; y++) {
            for (int x = 0; x < w * factor; x++) {
                for (int k = 0; k < 3; k++) {
                    double v = truth[c][k];
                    for (int ch = 0; ch < c; ch++) {
                        v += truth[ch][k] * latents[(ch * h + y / factor) * w + x / factor];
                    }
                    pixels[(y * w * factor + x) * 3 + k] = (float) v;
                }
            }
        }
        double[][] fitted = TraceFlags.LatentRgbProjection.fit(latents, c, h, w, new RgbImage(w * factor, h * factor, pixels), factor);
        for (int a = 0; a <= c; a++) {
            for (int k = 0; k < 3; k++) {
                assertEquals(truth[a][k], fitted[a][k], 1e-4, "coefficient " + a + ", " + k);
            }
        }
    }
}
