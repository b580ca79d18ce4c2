// ./ldm4j generate refusing what would have been ignored, wasted or destroyed, each in one line and
// before any step: outputs that collide or cannot be written, scheduler options that would not take
// effect, settings that overflow or mean nothing (guidance 1e308, width 0, strength without an image),
// and input files that are not what they should be.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.CRC32;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GenerateInputChecksTest {
    private static String tiny() {
        return SharedFixtures.conformance().resolve("sd1-tiny").toString();
    }

    @Test
    void refusesSaveLatentsNamingTheOutputFileHoweverSpelled(@TempDir Path dir) throws Exception {
        String model = dir.toString();
        Path png = dir.resolve("a.png");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--output", png.toString(),
                "--save-latents", png.toString()), "name the same file");
        Files.createDirectory(dir.resolve("sub"));
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--output", png.toString(),
                "--save-latents", dir.resolve("sub/../a.png").toString()), "name the same file");
        Files.writeString(png, "the image");
        Path link = Files.createSymbolicLink(dir.resolve("latents.safetensors"), png);
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--output", png.toString(),
                "--save-latents", link.toString(), "--overwrite"), "name the same file");
        assertEquals("the image", Files.readString(png));
    }

    @Test
    void refusesOutputsThatCannotBeWrittenBeforeLoadingTheModel(@TempDir Path dir) throws Exception {
        String model = dir.toString(); // not a model: a run that got past the outputs would fail on it instead
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--output", dir.resolve("o.png").toString(),
                "--save-latents", dir.resolve("no/l.safetensors").toString()), "the folder " + dir.resolve("no") + " does not exist");
        Path dangling = Files.createSymbolicLink(dir.resolve("d.png"), dir.resolve("gone.png"));
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--output", dangling.toString()), "symbolic link");
        if (Files.isDirectory(Path.of("/sys/kernel"))) {
            assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--output", "/sys/x.png"), "/sys/x.png: permission denied");
        }
    }

    @Test
    void refusesSettingsThatOverflowOrMeanNothing(@TempDir Path dir) {
        String model = dir.toString();
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--guidance", "1e308"), "--guidance must be from 0 to 10000");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--width", "0"), "leave them out");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--height", "0"), "leave them out");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--strength", "0.5"), "--strength applies to image-to-image and inpainting only");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--scheduler-option", "=x"), "has no key");
    }

    @Test
    void schedulerOptionsTakeEffectOrAreRefused(@TempDir Path dir) throws Exception {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        String[] common = {"generate", "--model", tiny(), "--prompt", "a red apple", "--steps", "3", "--width", "64", "--height", "64",
                "--seed", "3", "--scheduler", "ddim"};
        Path plain = dir.resolve("plain.png");
        Path eta = dir.resolve("eta.png");
        assertEquals(0, run(concat(common, "--output", plain.toString())).code());
        CliTest.Result r = run(concat(common, "--scheduler-option", "eta=1", "--output", eta.toString()));
        assertEquals(0, r.code(), r.err());
        assertFalse(Arrays.equals(Files.readAllBytes(plain), Files.readAllBytes(eta)), "eta = 1 makes DDIM stochastic: another image");
        String o = dir.resolve("o.png").toString();
        CliTest.Result unknown = run(concat(common, "--scheduler-option", "etta=1", "--output", o));
        assertOneLineError(unknown, "--scheduler-option 'etta' is not an option of DDIMScheduler; valid keys: ");
        assertTrue(unknown.err().contains(" timestep_spacing ") && unknown.err().strip().endsWith(" eta"), unknown.err());
        assertOneLineError(run("generate", "--model", tiny(), "--prompt", "x", "--steps", "1", "--scheduler", "euler_a",
                "--scheduler-option", "eta=0.5", "--output", o), "'eta' is not an option of EulerAncestralDiscreteScheduler");
        assertFalse(Files.exists(Path.of(o)));
    }

    @Test
    void latentsThatStopBeingFiniteStopTheRun(@TempDir Path dir) {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        Path png = dir.resolve("nan.png");
        // eta far beyond 1 makes DDIM's sqrt(1 - a_prev - sigma^2) NaN at the first step.
        CliTest.Result r = run("generate", "--model", tiny(), "--prompt", "x", "--steps", "3", "--width", "64", "--height", "64",
                "--scheduler", "ddim", "--scheduler-option", "eta=1e300", "--output", png.toString());
        assertOneLineError(r, "step 1 of 3 gave latents that are not finite");
        assertFalse(Files.exists(png), "no all-black image written");
    }

    @Test
    void inputFilesThatAreNotFilesSaySo(@TempDir Path dir) throws Exception {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        String o = dir.resolve("o.png").toString();
        assertOneLineError(run("generate", "--model", tiny(), "--prompt", "x", "--image", dir.toString(), "--output", o), "is a folder");
        if (Files.exists(Path.of("/dev/zero"))) {
            assertOneLineError(run("generate", "--model", tiny(), "--prompt", "x", "--image", "/dev/zero", "--output", o),
                    "/dev/zero: not a regular file");
            assertOneLineError(run("tokenize", "--prompt", "x", "--tokenizer", "/dev/zero"), "/dev/zero: not a regular file");
        }
        Path huge = hugePngHeader(dir.resolve("huge.png"), 24000, 24000);
        CliTest.Result r = run("generate", "--model", tiny(), "--prompt", "x", "--image", huge.toString(), "--output", o);
        assertOneLineError(r, huge + ": the image is 24000x24000; reading it needs about 8.6 GB of Java heap");
        assertFalse(r.err().contains("Caught exception"), r.err());
    }

    @Test
    void randomWeightsNamesTheOverwriteFlag(@TempDir Path dir) throws Exception {
        Path header = Files.writeString(dir.resolve("h.json"), "{\"a\": [\"float32\", [2]]}");
        Path out = Files.writeString(dir.resolve("w.safetensors"), "keep");
        assertOneLineError(run("random-weights", "--header", header.toString(), "--output", out.toString()), "pass --overwrite");
    }

    /** A PNG whose header claims width x height, with a few bytes of image data. */
    static Path hugePngHeader(Path file, int width, int height) throws IOException {
        try (OutputStream os = Files.newOutputStream(file); DataOutputStream d = new DataOutputStream(os)) {
            d.write(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
            java.nio.ByteBuffer ihdr = java.nio.ByteBuffer.allocate(13).putInt(width).putInt(height).put(new byte[]{8, 2, 0, 0, 0});
            chunk(d, "IHDR", ihdr.array());
            chunk(d, "IEND", new byte[0]);
        }
        return file;
    }

    private static void chunk(DataOutputStream d, String type, byte[] body) throws IOException {
        CRC32 crc = new CRC32();
        crc.update(type.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        crc.update(body);
        d.writeInt(body.length);
        d.writeBytes(type);
        d.write(body);
        d.writeInt((int) crc.getValue());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
