// ./ldm4j generate end to end on the tiny conformance model: the seeded diffusers runs (pipelines_seeded,
// and pipelines_odd at 72x104, a size that is not a multiple of 64) reproduced from the seed alone (PNG
// within 2/255), other sizes that are multiples of 8 but not 64, and one-line refusals of bad input.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GenerateCommandTest {
    static Path tiny() {
        return SharedFixtures.conformance().resolve("sd1-tiny");
    }

    @SuppressWarnings("unchecked")
    static Stream<Arguments> seededRuns() {
        if (!SharedFixtures.available()) {
            return Stream.of(Arguments.of("(../shared absent)", "", Map.of(), false));
        }
        List<Arguments> out = new ArrayList<>();
        for (String fixture : List.of("pipelines_seeded", "pipelines_odd")) {
            Map<String, Object> runs = Json.parseObject(tiny().resolve(fixture + ".json"));
            for (var e : runs.entrySet()) {
                out.add(Arguments.of(e.getKey(), fixture, e.getValue(), false));
                out.add(Arguments.of(e.getKey(), fixture, e.getValue(), true));
            }
        }
        return out.stream();
    }

    @SuppressWarnings("unchecked")
    @ParameterizedTest(name = "{0} single file: {3}")
    @MethodSource("seededRuns")
    void reproducesTheSeededDiffusersRunFromTheSeedAlone(String key, String fixture, Map<String, Object> run, boolean singleFile,
                                                         @TempDir Path dir) throws Exception {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        Path png = dir.resolve("out.png");
        List<String> args = new ArrayList<>(List.of("generate",
                "--prompt", (String) run.get("prompt"),
                "--negative-prompt", (String) run.get("negative_prompt"),
                "--steps", run.get("steps").toString(),
                "--guidance", run.get("guidance_scale").toString(),
                "--width", run.get("width").toString(),
                "--height", run.get("height").toString(),
                "--scheduler", (String) run.get("scheduler"),
                "--seed", run.get("seed").toString(),
                // The reference pipeline ran in torch.float64, so its generator drew float64 normals.
                "--noise-dtype", "float64",
                "--output", png.toString()));
        // The scheduler keyword arguments the reference passed to from_config.
        ((Map<String, Object>) run.get("scheduler_kwargs")).forEach((k, v) -> args.addAll(List.of("--scheduler-option", k + "=" + v)));
        if (singleFile) {
            args.addAll(List.of("--model", SharedFixtures.conformance().resolve("sd1-tiny.safetensors").toString(),
                    "--config", tiny().toString(), "--tokenizer", SharedFixtures.clip().toString()));
        } else {
            args.addAll(List.of("--model", tiny().toString()));
        }
        CliTest.Result r = run(args.toArray(new String[0]));
        assertEquals(0, r.code(), r.err());
        BufferedImage img = ImageIO.read(png.toFile());
        float[] ref;
        try (SafetensorsFile f = SafetensorsFile.open(tiny().resolve(fixture + ".safetensors"))) {
            ref = f.tensor(key + ".image").toFloatArray(); // [1, H, W, 3] in [0, 1]
        }
        int worst = worstLevelDifference(img, ref);
        assertTrue(worst <= 2, key + ": worst pixel differs by " + worst + "/255 (tolerance 2)");
    }

    /** The largest difference in 8-bit levels between img and a reference [H, W, 3] in [0, 1] (converted as diffusers converts). */
    static int worstLevelDifference(BufferedImage img, float[] ref) {
        int w = img.getWidth();
        int h = img.getHeight();
        assertEquals(ref.length, w * h * 3);
        int worst = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y);
                int[] got = {(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff};
                for (int c = 0; c < 3; c++) {
                    int want = (int) Math.rint(Math.min(Math.max(ref[(y * w + x) * 3 + c], 0f), 1f) * 255f);
                    worst = Math.max(worst, Math.abs(got[c] - want));
                }
            }
        }
        return worst;
    }

    /** 136x128: the latent 17x16 is not a multiple of 8 at every level, so the U-Net's upsamplers meet odd skips. */
    @Test
    void generatesASizeThatIsNotAMultipleOfSixtyFour(@TempDir Path dir) throws Exception {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        Path png = dir.resolve("odd.png");
        Path latents = dir.resolve("odd.safetensors");
        CliTest.Result r = run("generate", "--model", tiny().toString(), "--prompt", "a red apple", "--steps", "2",
                "--width", "136", "--height", "128", "--seed", "1", "--output", png.toString(), "--save-latents", latents.toString());
        assertEquals(0, r.code(), r.err());
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(136, img.getWidth());
        assertEquals(128, img.getHeight());
        try (SafetensorsFile f = SafetensorsFile.open(latents)) {
            assertEquals(List.of(1, 4, 16, 17), java.util.Arrays.stream(f.tensor("latents").shape()).boxed().toList());
        }
    }

    @Test
    void withoutAModelOrTheBuiltInOneItSaysWhereWeightsComeFrom(@TempDir Path emptyHome) {
        String before = System.getProperty("ldm4j.home");
        System.setProperty("ldm4j.home", emptyHome.toString());
        try {
            CliTest.Result r = run("generate", "--prompt", "a cat");
            assertEquals(1, r.code());
            assertEquals(1, r.err().strip().split("\n").length, r.err());
            assertTrue(r.err().contains("built-in model 'shapes'") && r.err().contains("--model"), r.err());
        } finally {
            if (before == null) {
                System.clearProperty("ldm4j.home");
            } else {
                System.setProperty("ldm4j.home", before);
            }
        }
    }

    @Test
    void refusesBadSettingsBeforeLoadingAnything(@TempDir Path dir) throws Exception {
        String model = dir.toString();
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--width", "100"), "multiples of 8");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--steps", "0"), "--steps");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--strength", "1.5"), "--strength");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--scheduler", "nope"), "valid names");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--prediction", "x0"), "--prediction");
        assertOneLineError(run("generate", "--model", dir.resolve("missing.safetensors").toString(), "--prompt", "x"), "missing.safetensors");
        Path taken = Files.writeString(dir.resolve("taken.png"), "keep me");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--output", taken.toString()), "exists");
        assertEquals("keep me", Files.readString(taken));
    }

    @Test
    void refusesAModelFolderThatIsNotAModel(@TempDir Path dir) {
        assertOneLineError(run("generate", "--model", dir.toString(), "--prompt", "x", "--output", dir.resolve("o.png").toString()), dir.toString());
    }

    @Test
    void refusesANonRgbInitImage(@TempDir Path dir) throws Exception {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        Path gray = dir.resolve("gray.png");
        ImageIO.write(new BufferedImage(64, 64, BufferedImage.TYPE_BYTE_GRAY), "png", gray.toFile());
        assertOneLineError(run("generate", "--model", tiny().toString(), "--prompt", "x", "--image", gray.toString(),
                "--output", dir.resolve("o.png").toString()), "RGB");
        Path junk = Files.writeString(dir.resolve("junk.png"), "not a png");
        assertOneLineError(run("generate", "--model", tiny().toString(), "--prompt", "x", "--image", junk.toString(),
                "--output", dir.resolve("o.png").toString()), "junk.png");
    }

    @Test
    void unavailableDeviceIsOneLine(@TempDir Path dir) {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        CliTest.Result r = run("generate", "--model", tiny().toString(), "--prompt", "x", "--device", "tpu",
                "--output", dir.resolve("o.png").toString());
        assertOneLineError(r, "tpu");
    }

    @Test
    void refusesOptionsThatDoNotFitTogether(@TempDir Path dir) {
        String model = dir.toString();
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--dtype", "fp16"), "--device cuda");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--dtype", "fp8"), "--dtype");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--vae-dtype", "fp32"), "--vae-dtype needs --device cuda");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--device", "cuda", "--vae-dtype", "half"), "--vae-dtype must be");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--generator", "cuda", "--noise-dtype", "float64"), "float32");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--karras"), "--scheduler");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--cuda-graph"), "--device cuda");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--device", "cuda", "--cuda-graph", "--profile"), "--profile");
    }

    @Test
    void schedulerOptionsReachTheScheduler(@TempDir Path dir) throws Exception {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        Path a = dir.resolve("a.png");
        Path b = dir.resolve("b.png");
        String[] common = {"generate", "--model", tiny().toString(), "--prompt", "a red apple", "--steps", "3", "--width", "64",
                "--height", "64", "--seed", "3", "--scheduler", "ddim"};
        CliTest.Result plain = run(concat(common, "--output", a.toString()));
        CliTest.Result trailing = run(concat(common, "--scheduler-option", "timestep_spacing=trailing", "--output", b.toString()));
        assertEquals(0, plain.code(), plain.err());
        assertEquals(0, trailing.code(), trailing.err());
        assertTrue(plain.err().contains("t=667") && !plain.err().contains("t=999"), "leading spacing (the model's) starts at 667: " + plain.err());
        assertTrue(trailing.err().contains("t=999"), "trailing spacing starts at 999: " + trailing.err());
        assertTrue(!java.util.Arrays.equals(Files.readAllBytes(a), Files.readAllBytes(b)), "a different schedule gives a different image");
        assertOneLineError(run(concat(common, "--scheduler-option", "timestep_spacing=sideways", "--output", dir.resolve("c.png").toString())),
                "timestep_spacing");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
