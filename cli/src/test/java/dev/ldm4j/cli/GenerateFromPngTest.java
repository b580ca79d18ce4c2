// generate writes its settings into the PNG; `info` prints them; `generate --from-png` runs them again and
// gives the same PNG, byte for byte (both prompt styles, scheduler options, float64 draws, clip skip, a
// batch member, image-to-image, the model found by the name the file gives). Flags beside --from-png win;
// an A1111 file is read (its sampler mapped, its hires fix run) and what ldm4j lacks is
// refused in one line. On the tiny conformance model at 64x64 with a few steps.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GenerateFromPngTest {
    private static Path tiny() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        return SharedFixtures.conformance().resolve("sd1-tiny");
    }

    private static CliTest.Result ok(String... args) {
        CliTest.Result r = run(args);
        assertEquals(0, r.code(), r.err());
        return r;
    }

    private static String[] args(Object... parts) {
        return Arrays.stream(parts).map(Object::toString).toArray(String[]::new);
    }

    static String parameters(Path png) {
        return PngMetadata.read(png).text().get("parameters");
    }

    /** Generates with the flags, prints info, regenerates from the PNG alone (with --model), and compares the bytes. */
    static void roundTrip(Path dir, String... flags) throws IOException {
        Path first = dir.resolve("first.png");
        List<String> a = new ArrayList<>(List.of("generate", "--model", tiny().toString(), "--output", first.toString()));
        a.addAll(List.of(flags));
        ok(a.toArray(new String[0]));
        String params = parameters(first);

        CliTest.Result info = ok("info", first.toString());
        assertTrue(info.out().startsWith(first + ": PNG, 64x64, 8-bit RGB\n"), info.out());
        assertTrue(info.out().contains(params), info.out());

        Path again = dir.resolve("again.png");
        List<String> b = new ArrayList<>(List.of("generate", "--from-png", first.toString(), "--model", tiny().toString(), "--output", again.toString()));
        if (a.contains("--image")) {
            b.addAll(List.of("--image", a.get(a.indexOf("--image") + 1)));
        }
        CliTest.Result r = ok(b.toArray(new String[0]));
        assertFalse(r.err().contains("warning"), r.err());
        assertArrayEquals(Files.readAllBytes(first), Files.readAllBytes(again), "the same PNG, byte for byte; parameters:\n" + params);
    }

    @Test
    void theDiffusersStyleRoundTripsWithSchedulerOptionsFloat64DrawsAndClipSkip(@TempDir Path dir) throws IOException {
        roundTrip(dir, "--prompt", "a red apple, on a table: still life", "--negative-prompt", "blurry, dark",
                "--steps", "3", "--guidance", "6.5", "--width", "64", "--height", "64", "--seed", "12345",
                "--scheduler", "ddim", "--scheduler-option", "timestep_spacing=trailing", "--noise-dtype", "float64", "--clip-skip", "1");
        String p = parameters(dir.resolve("first.png"));
        assertTrue(p.startsWith("a red apple, on a table: still life\nNegative prompt: blurry, dark\nSteps: 3, Sampler: DDIM, CFG scale: 6.5, "
                + "Seed: 12345, Size: 64x64, Model hash: "), p);
        assertTrue(p.contains(", Model: sd1-tiny, Clip skip: 2, RNG: CPU, Scheduler: ddim, Scheduler option timestep_spacing: trailing, "
                + "Noise dtype: float64, Prompt style: diffusers, Version: ldm4j "), p);
        assertEquals(ModelHash.shortHash(tiny()), GenerationSettings.fromInfotext(Infotext.parse(p), "x").modelHash());
    }

    @Test
    void theA1111StyleRoundTripsWithKarrasAndALongWeightedPrompt(@TempDir Path dir) throws IOException {
        String longPrompt = String.join(" ", java.util.Collections.nCopies(30, "a (red:1.3) apple,")) + " [blurry background]";
        roundTrip(dir, "--prompt", longPrompt, "--negative-prompt", "(dark:1.2)", "--prompt-style", "a1111", "--steps", "3",
                "--width", "64", "--height", "64", "--seed", "7", "--scheduler", "dpmpp_2m", "--karras", "--generator", "cuda");
        String p = parameters(dir.resolve("first.png"));
        assertTrue(p.contains("Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 7") && p.contains("Prompt style: a1111"), p);
        assertFalse(p.contains("RNG"), "the GPU's generator is the web UI's default: no RNG key");
    }

    @Test
    void oneImageOfABatchRoundTrips(@TempDir Path dir) throws IOException {
        Path batch = dir.resolve("b.png");
        ok("generate", "--model", tiny().toString(), "--prompt", "a blue cube", "--steps", "2", "--width", "64", "--height", "64",
                "--seed", "3", "--batch", "2", "--scheduler", "euler_a", "--output", batch.toString());
        Path second = dir.resolve("b-1.png");
        assertTrue(parameters(second).contains("Batch: 2, Batch index: 1"), parameters(second));
        Path again = dir.resolve("again.png");
        ok("generate", "--from-png", second.toString(), "--model", tiny().toString(), "--output", again.toString());
        assertArrayEquals(Files.readAllBytes(second), Files.readAllBytes(again), "image 1 of the batch of 2");
        assertFalse(Files.exists(dir.resolve("again-0.png")), "only that image is written");
    }

    @Test
    void imageToImageRoundTripsWithItsImageAndIsRefusedWithoutIt(@TempDir Path dir) throws IOException {
        Path start = dir.resolve("start.png");
        ok("generate", "--model", tiny().toString(), "--prompt", "a house", "--steps", "2", "--width", "64", "--height", "64",
                "--seed", "1", "--output", start.toString());
        roundTrip(dir, "--prompt", "a house at night", "--image", start.toString(), "--strength", "0.6", "--steps", "4", "--seed", "2");
        assertTrue(parameters(dir.resolve("first.png")).contains("Denoising strength: 0.6"));
        assertOneLineError(run("generate", "--from-png", dir.resolve("first.png").toString(), "--model", tiny().toString(),
                "--output", dir.resolve("x.png").toString()), "pass that image with --image FILE");
    }

    @Test
    void flagsBesideTheFileOverrideIt(@TempDir Path dir) throws IOException {
        Path first = dir.resolve("first.png");
        ok("generate", "--model", tiny().toString(), "--prompt", "a green pear", "--steps", "2", "--width", "64", "--height", "64",
                "--seed", "5", "--scheduler", "euler", "--output", first.toString());
        Path other = dir.resolve("other.png");
        ok("generate", "--from-png", first.toString(), "--model", tiny().toString(), "--seed", "6", "--steps", "3", "--output", other.toString());
        GenerationSettings s = GenerationSettings.fromInfotext(Infotext.parse(parameters(other)), "other.png");
        assertEquals(6L, s.seed());
        assertEquals(3, s.steps());
        assertEquals("a green pear", s.prompt());
        assertEquals("euler", s.scheduler());
        assertFalse(Arrays.equals(Files.readAllBytes(first), Files.readAllBytes(other)));
    }

    @Test
    void theModelIsFoundByTheNameTheFileGives(@TempDir Path dir) throws IOException {
        Path home = dir.resolve("home");
        Files.createDirectories(home.resolve("models"));
        Files.createSymbolicLink(home.resolve("models").resolve("sd1-tiny"), tiny());
        Path first = dir.resolve("first.png");
        ok("generate", "--model", tiny().toString(), "--prompt", "a lamp", "--steps", "2", "--width", "64", "--height", "64",
                "--seed", "9", "--scheduler", "euler", "--output", first.toString());
        String before = System.getProperty("ldm4j.home");
        System.setProperty("ldm4j.home", home.toString());
        try {
            Path again = dir.resolve("again.png");
            ok("generate", "--from-png", first.toString(), "--output", again.toString());
            assertArrayEquals(Files.readAllBytes(first), Files.readAllBytes(again), "sd1-tiny found as a built-in model");
        } finally {
            if (before == null) {
                System.clearProperty("ldm4j.home");
            } else {
                System.setProperty("ldm4j.home", before);
            }
        }
        assertOneLineError(run("generate", "--from-png", first.toString(), "--output", dir.resolve("x.png").toString()),
                "was made with the model 'sd1-tiny'");
    }

    /** A PNG as the web UI writes one: our encoder with A1111's parameters text. */
    private static Path a1111Png(Path dir, String parameters) throws IOException {
        Path png = dir.resolve("a1111.png");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PngWriter.write(new byte[64 * 64 * 3], 64, 64, Map.of("parameters", parameters), out);
        Files.write(png, out.toByteArray());
        return png;
    }

    @Test
    void anA1111FileIsRunWithItsSamplerMappedAndItsHiresFix(@TempDir Path dir) throws IOException {
        Path png = a1111Png(dir, "a (red:1.2) fox in snow\nNegative prompt: blurry\nSteps: 3, Sampler: DPM++ 2M, Schedule type: Karras, "
                + "CFG scale: 7, Seed: 42, Size: 64x64, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.7, "
                + "Clip skip: 2, Hires upscale: 2, Hires steps: 4, Version: v1.10.1");
        Path out = dir.resolve("out.png");
        CliTest.Result r = ok("generate", "--from-png", png.toString(), "--model", tiny().toString(), "--output", out.toString());
        assertFalse(r.err().contains("ignored"), r.err());
        assertTrue(ok("info", out.toString()).out().startsWith(out + ": PNG, 128x128, 8-bit RGB"), "the hires fix doubled the size");
        assertTrue(parameters(out).contains("Denoising strength: 0.7, Hires upscale: 2, Hires steps: 4, Hires upscaler: Latent"), parameters(out));
        assertTrue(r.err().contains("was made with a model of hash 6ce0161689"), r.err());
        GenerationSettings s = GenerationSettings.fromInfotext(Infotext.parse(parameters(out)), "out.png");
        assertEquals("a (red:1.2) fox in snow", s.prompt());
        assertEquals("dpmpp_2m", s.scheduler());
        assertTrue(s.karras());
        assertEquals(7.0, s.guidance());
        assertEquals(1, s.clipSkip());
        assertEquals("cuda", s.generator());
        assertEquals("a1111", s.promptStyle());
        assertEquals(42L, s.seed());
    }

    @Test
    void whatLdm4jLacksAndFilesWithoutParametersAreOneLine(@TempDir Path dir) throws IOException {
        Path png = a1111Png(dir, "a fox\nSteps: 20, Sampler: DPM++ 2S a, CFG scale: 7, Seed: 1, Size: 64x64, Model: m");
        assertOneLineError(run("generate", "--from-png", png.toString(), "--model", tiny().toString(), "--output", dir.resolve("o.png").toString()),
                "the sampler 'DPM++ 2S a' is not available in ldm4j");
        ok("generate", "--from-png", png.toString(), "--model", tiny().toString(), "--scheduler", "euler_a", "--steps", "2",
                "--output", dir.resolve("o.png").toString());

        Path bare = dir.resolve("bare.png");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PngWriter.write(new byte[8 * 8 * 3], 8, 8, out);
        Files.write(bare, out.toByteArray());
        assertOneLineError(run("generate", "--from-png", bare.toString(), "--output", dir.resolve("p.png").toString()), "holds no generation parameters");
        assertEquals("no generation parameters", ok("info", bare.toString()).out().strip().split("\n")[1]);
    }

    @Test
    void aTruncatedPromptIsOneWarningLineWithTheCountOfDroppedTokens(@TempDir Path dir) {
        String prompt = String.join(" ", java.util.Collections.nCopies(100, "cat"));
        CliTest.Result r = ok("generate", "--model", tiny().toString(), "--prompt", prompt, "--steps", "1", "--scheduler", "euler", "--width", "64", "--height", "64",
                "--output", dir.resolve("o.png").toString());
        List<String> warnings = r.err().lines().filter(l -> l.contains("warning")).toList();
        assertEquals(List.of("ldm4j: warning: the prompt has 100 tokens and the text encoder takes 75: the last 25 were dropped"
                + " (--prompt-style a1111 reads long prompts)"), warnings);
        CliTest.Result a = ok("generate", "--model", tiny().toString(), "--prompt", prompt, "--prompt-style", "a1111", "--steps", "1", "--scheduler", "euler",
                "--width", "64", "--height", "64", "--output", dir.resolve("a.png").toString());
        assertFalse(a.err().contains("warning"), a.err());
        assertOneLineError(run("generate", "--model", tiny().toString(), "--prompt", "x", "--prompt-style", "comfy"), "--prompt-style must be");
    }
}
