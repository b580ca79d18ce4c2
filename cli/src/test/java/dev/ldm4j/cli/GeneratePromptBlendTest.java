// generate's conditioning switches (--prompt-mix, --interpolate, --prompt-arithmetic): bad values refused in one line,
// an interpolation grid whose end tiles are the two prompts' own images bit for bit, and the switches run again from
// the PNG byte for byte.
package dev.ldm4j.cli;

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

class GeneratePromptBlendTest {
    private static String tiny() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        return SharedFixtures.conformance().resolve("sd1-tiny").toString();
    }

    @Test
    void badValuesAreRefusedInOneLine(@TempDir Path dir) {
        String out = dir.resolve("o.png").toString();
        String m = dir.toString();      // no model: a check that passed would fail on it instead
        assertOneLineError(run("generate", "--model", m, "--prompt", "a", "--output", out, "--interpolate", "1", "--prompt-mix", "b"),
                "--interpolate must be 2 to 64, got 1");
        assertOneLineError(run("generate", "--model", m, "--prompt", "a", "--output", out, "--interpolate", "3"),
                "--interpolate needs --prompt-mix TEXT");
        assertOneLineError(run("generate", "--model", m, "--prompt", "a", "--output", out, "--interpolate", "3", "--prompt-mix", "b:0.5"),
                "--interpolate takes --prompt-mix TEXT without a weight");
        assertOneLineError(run("generate", "--model", m, "--prompt", "a", "--output", out, "--interpolate", "3", "--prompt-mix", "b", "--batch", "2"),
                "--interpolate writes one grid PNG");
        assertOneLineError(run("generate", "--model", m, "--prompt", "a", "--output", out, "--prompt-mix", "b:1.5"),
                "--prompt-mix: the weight must be a number in [0, 1], got '1.5' (in 'b:1.5')");
        assertOneLineError(run("generate", "--model", m, "--output", out, "--prompt-arithmetic", "a cat"),
                "--prompt-arithmetic needs at least two terms");
        assertOneLineError(run("generate", "--model", m, "--output", out, "--prompt-arithmetic", "a cat -  - b"),
                "--prompt-arithmetic: an empty term");
        assertOneLineError(run("generate", "--model", m, "--prompt", "x", "--output", out, "--prompt-arithmetic", "a - b"),
                "--prompt and --prompt-arithmetic: give one");
    }

    @Test
    void theInterpolationGridEndsOnTheTwoPromptsOwnImages(@TempDir Path dir) throws IOException {
        String[] common = {"generate", "--model", tiny(), "--width", "64", "--height", "64", "--seed", "9", "--steps", "3", "--scheduler", "ddim"};
        Path grid = dir.resolve("grid.png");
        Path a = dir.resolve("a.png");
        Path b = dir.resolve("b.png");
        assertEquals(0, run(concat(common, "--prompt", "a red apple", "--prompt-mix", "a blue car", "--interpolate", "3", "--output", grid.toString())).code());
        assertEquals(0, run(concat(common, "--prompt", "a red apple", "--output", a.toString())).code());
        assertEquals(0, run(concat(common, "--prompt", "a blue car", "--output", b.toString())).code());
        BufferedImage g = ImageIO.read(grid.toFile());
        assertEquals(3 * (64 + 2) + 2, g.getWidth());
        assertEquals(64 + 4, g.getHeight());
        assertTile(ImageIO.read(a.toFile()), g, 0);
        assertTile(ImageIO.read(b.toFile()), g, 2);
    }

    private static void assertTile(BufferedImage want, BufferedImage grid, int k) {
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                assertEquals(want.getRGB(x, y), grid.getRGB(2 + k * 66 + x, 2 + y), "tile " + k + " at " + x + "," + y);
            }
        }
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void aMixAndArithmeticRoundTripThroughThePng(@TempDir Path dir) throws IOException {
        tiny();
        Files.createDirectories(dir.resolve("mix"));
        Files.createDirectories(dir.resolve("sum"));
        GenerateFromPngTest.roundTrip(dir.resolve("mix"), "--prompt", "a red apple", "--prompt-mix", "a blue car:0.3", "--width", "64",
                "--height", "64", "--seed", "2", "--steps", "3");
        String p = GenerateFromPngTest.parameters(dir.resolve("mix/first.png"));
        assertTrue(p.contains("Prompt mix: \"a blue car:0.3\""), p);
        GenerateFromPngTest.roundTrip(dir.resolve("sum"), "--prompt-arithmetic", "a red apple - red + blue", "--width", "64",
                "--height", "64", "--seed", "2", "--steps", "3");
        String q = GenerateFromPngTest.parameters(dir.resolve("sum/first.png"));
        assertTrue(q.startsWith("a red apple\n") && q.contains("Prompt arithmetic: a red apple - red + blue"), q);
    }
}
