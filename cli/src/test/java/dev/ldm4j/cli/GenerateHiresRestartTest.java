// generate's hires fix (--hires-scale, --hires-strength, --hires-steps, --hires-upscale) and restart sampling
// (--restart): bad values and combinations refused in one line before the model loads; a run writes the scaled size
// with A1111's hires keys and the restart setting in the PNG, and --from-png runs it again byte for byte.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static dev.ldm4j.cli.GenerateSamplingFlagsTest.notAModel;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GenerateHiresRestartTest {
    @Test
    void badRestartValuesAreRefusedInOneLineBeforeTheModelLoads(@TempDir Path dir) {
        assertOneLineError(notAModel(dir, "--scheduler", "euler", "--restart", "0.1,2"),
                "--restart must be TMIN,TMAX,K or TMIN,TMAX,K,N (e.g. 0.1,2,2,9), got '0.1,2'");
        assertOneLineError(notAModel(dir, "--scheduler", "euler", "--restart", "2,1,2"), "--restart needs 0 < TMIN < TMAX, got '2,1,2'");
        assertOneLineError(notAModel(dir, "--scheduler", "euler", "--restart", "0,1,2"), "--restart needs 0 < TMIN < TMAX, got '0,1,2'");
        assertOneLineError(notAModel(dir, "--scheduler", "euler", "--restart", "0.1,x,2"), "--restart: 'x' is not a number (in '0.1,x,2')");
        assertOneLineError(notAModel(dir, "--scheduler", "euler", "--restart", "0.1,2,1.5"),
                "--restart: K must be a whole number from 0 to 1000, got '1.5' (in '0.1,2,1.5')");
        assertOneLineError(notAModel(dir, "--scheduler", "euler", "--restart", "0.1,2,2,0"),
                "--restart: N must be a whole number from 1 to 1000, got '0' (in '0.1,2,2,0')");
        assertOneLineError(notAModel(dir, "--restart"), "--restart re-solves the probability-flow ODE with euler or heun");
        assertOneLineError(notAModel(dir, "--restart", "--scheduler", "euler_a"), "add --scheduler euler or --scheduler heun, not euler_a");
        assertOneLineError(notAModel(dir, "--restart", "--scheduler", "euler", "--scheduler-option", "s_churn=1"),
                "--restart needs the ODE: leave out --scheduler-option s_churn");
        assertOneLineError(notAModel(dir, "--restart", "--scheduler", "heun", "--steps", "1"), "--restart needs at least 2 steps to restart inside, got 1");
    }

    @Test
    void badHiresValuesAreRefusedInOneLineBeforeTheModelLoads(@TempDir Path dir) {
        assertOneLineError(notAModel(dir, "--hires-scale", "0.5"), "--hires-scale must be from 1 to 8, got 0.5");
        assertOneLineError(notAModel(dir, "--hires-scale", "9"), "--hires-scale must be from 1 to 8, got 9.0");
        assertOneLineError(notAModel(dir, "--hires-scale", "2", "--hires-strength", "0"), "--hires-strength must be in (0, 1], got 0.0");
        assertOneLineError(notAModel(dir, "--hires-scale", "2", "--hires-strength", "1.5"), "--hires-strength must be in (0, 1], got 1.5");
        assertOneLineError(notAModel(dir, "--hires-scale", "2", "--hires-steps", "0"), "--hires-steps must be at least 1, got 0");
        assertOneLineError(notAModel(dir, "--hires-scale", "2", "--hires-upscale", "lanczos"),
                "--hires-upscale must be latent, latent-bicubic, latent-nearest or pixel, got 'lanczos'");
        assertOneLineError(notAModel(dir, "--hires-strength", "0.5"), "--hires-strength sets the hires fix's second pass: give --hires-scale F too");
        assertOneLineError(notAModel(dir, "--hires-upscale", "pixel"), "--hires-upscale sets the hires fix's second pass: give --hires-scale F too");
        assertOneLineError(notAModel(dir, "--hires-scale", "2", "--image", dir.resolve("in.png").toString()),
                "--hires-scale upscales a text-to-image run; it does not apply with --image");
        assertOneLineError(notAModel(dir, "--hires-scale", "2", "--hires-steps", "5", "--scheduler", "euler", "--sigmas", "ays"),
                "--hires-steps and --sigmas/--timesteps: give one");
        assertOneLineError(notAModel(dir, "--hires-scale", "2", "--trace", dir.resolve("t").toString()), "--trace does not draw the hires fix's two passes yet");
        assertOneLineError(notAModel(dir, "--restart", "--scheduler", "euler", "--hires-scale", "2", "--hires-steps", "1"),
                "--restart needs at least 2 steps to restart inside, got 1");
    }

    private static String tiny() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        return SharedFixtures.conformance().resolve("sd1-tiny").toString();
    }

    @Test
    void aHiresRunWithRestartWritesTheScaledSizeAndRunsAgainFromItsPng(@TempDir Path dir) throws IOException {
        String model = tiny();
        Path first = dir.resolve("first.png");
        CliTest.Result r = run("generate", "--model", model, "--prompt", "a red apple", "--width", "64", "--height", "48", "--steps", "4",
                "--seed", "9", "--scheduler", "euler", "--restart", "0.5,3,1,2", "--hires-scale", "2", "--hires-strength", "0.5",
                "--hires-steps", "6", "--output", first.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("ldm4j: hires fix: 64x48, then 128x96 (latent upscale, strength 0.5)"), r.err());
        CliTest.Result info = run("info", first.toString());
        assertTrue(info.out().startsWith(first + ": PNG, 128x96, 8-bit RGB\n"), info.out());
        String p = GenerateFromPngTest.parameters(first);
        assertTrue(p.contains("Size: 64x48, "), p);
        assertTrue(p.contains("Denoising strength: 0.5, Hires upscale: 2, Hires steps: 6, Hires upscaler: Latent"), p);
        assertTrue(p.contains("Restart: \"0.5,3,1,2\""), p);

        Path again = dir.resolve("again.png");
        CliTest.Result g = run("generate", "--from-png", first.toString(), "--model", model, "--output", again.toString());
        assertEquals(0, g.code(), g.err());
        assertFalse(g.err().contains("warning"), g.err());
        assertArrayEquals(Files.readAllBytes(first), Files.readAllBytes(again), "the same PNG, byte for byte; parameters:\n" + p);

        Path pixel = dir.resolve("pixel.png");
        CliTest.Result px = run("generate", "--from-png", first.toString(), "--model", model, "--hires-upscale", "pixel", "--restart", "0.5,3,0",
                "--output", pixel.toString());
        assertEquals(0, px.code(), px.err());
        String pp = GenerateFromPngTest.parameters(pixel);
        assertTrue(pp.contains("Hires upscaler: Bicubic (pixels)") && pp.contains("Restart: \"0.5,3,0,9\""), pp);
        assertFalse(java.util.Arrays.equals(Files.readAllBytes(first), Files.readAllBytes(pixel)));
    }
}
