// ./ldm4j eval shapes on the tiny conformance model (2 prompts per group, 2 steps, 4 reconstruction images):
// the table, the JSON and the grid have every group, count and the PSNR (the tiny model draws noise, so
// nothing is judged correct); the sampling settings come as generate's do; bad flags are refused in one
// line before the model loads.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.train.eval.ShapesBenchmark.Sampling;
import dev.ldm4j.weights.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class EvalCommandTest {
    private static Path tiny() {
        return SharedFixtures.conformance().resolve("sd1-tiny");
    }

    @Test
    @SuppressWarnings("unchecked")
    void measuresEveryGroupAndTheVaeOnTheTinyModel(@TempDir Path dir) throws Exception {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        Path json = dir.resolve("eval.json");
        Path grid = dir.resolve("grid.png");
        CliTest.Result r = run("eval", "shapes", "--model", tiny().toString(), "--steps", "2", "--limit", "2", "--vae-samples", "4",
                "--json", json.toString(), "--grid", grid.toString());
        assertEquals(0, r.code(), r.err());
        String out = r.out();
        for (String group : List.of("seen", "unseen pairs", "two objects")) {
            assertTrue(out.lines().anyMatch(l -> l.matches(group + " +correct +%")), "a table for " + group + ":\n" + out);
        }
        assertTrue(out.lines().anyMatch(l -> l.matches("images +\\d/2 +\\d+\\.\\d%")), out);
        assertTrue(out.lines().anyMatch(l -> l.matches(" +relation +\\d/2 +\\d+\\.\\d%")), out);
        assertTrue(out.contains("2 steps, guidance 7.5, the model's scheduler (PNDMScheduler)"), out);
        assertTrue(out.contains("all: ") && out.contains("/6 images correct"), out);
        assertTrue(out.contains("VAE reconstruction PSNR over 4 shapes-v1 images (seed 777, 128x128): mean "), out);
        assertEquals(6, r.err().lines().filter(l -> l.startsWith("[")).count(), "one progress line per image:\n" + r.err());

        Map<String, Object> j = Json.parseObject(json);
        assertEquals(tiny().toString(), j.get("model"));
        List<Map<String, Object>> groups = (List<Map<String, Object>>) j.get("groups");
        assertEquals(List.of("seen", "unseen pairs", "two objects"), groups.stream().map(g -> g.get("name")).toList());
        for (Map<String, Object> g : groups) {
            assertEquals(2L, ((Number) g.get("total")).longValue());
            assertTrue(((Map<String, Object>) g.get("attributes")).containsKey("objects"));
        }
        Map<String, Object> all = (Map<String, Object>) j.get("all");
        assertEquals(6L, ((Number) all.get("total")).longValue());
        long correct = ((Number) all.get("correct")).longValue();
        assertEquals(6 - correct, ((List<?>) j.get("failures")).size(), "each failing image listed");
        Map<String, Object> vae = (Map<String, Object>) j.get("vae_reconstruction");
        assertEquals(4L, ((Number) vae.get("samples")).longValue());
        double mean = ((Number) vae.get("mean_psnr_db")).doubleValue();
        double min = ((Number) vae.get("min_psnr_db")).doubleValue();
        assertTrue(min <= mean && min > 0 && mean < 100, "PSNR mean " + mean + ", min " + min);

        BufferedImage png = ImageIO.read(grid.toFile());
        assertEquals(6 * (128 + 2) + 2, png.getWidth(), "six 128-pixel images in a row, 2-pixel gutters");
        assertEquals(128 + 4, png.getHeight());
    }

    @Test
    void compareMakesOneTableOfEveryModelAndStepCountAndAGridOfTheSamePrompts(@TempDir Path dir) throws Exception {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        Path grid = dir.resolve("compare.png");
        Path json = dir.resolve("compare.json");
        CliTest.Result r = run("eval", "shapes", "--model", tiny().toString(), "--compare", tiny().toString(), "--steps", "3",
                "--steps-list", "1,2", "--limit", "1", "--groups", "seen,two", "--grid", grid.toString(), "--json", json.toString());
        assertEquals(0, r.code(), r.err());
        List<String> rows = r.out().lines().filter(l -> l.startsWith(tiny().toString())).toList();
        assertEquals(5, rows.size(), "the teacher at 3, 1 and 2 steps, the student at 1 and 2:\n" + r.out());
        assertTrue(rows.get(0).matches(".* 3 +7\\.5 +PNDMScheduler +\\d+\\.\\d% +\\d+\\.\\d% +\\d+\\.\\d% +\\d+\\.\\d+"), rows.get(0));
        assertTrue(r.out().contains("seen") && r.out().contains("two objects") && r.out().contains("s/image"), r.out());
        BufferedImage png = ImageIO.read(grid.toFile());
        assertEquals(3 * (128 + 2) + 2, png.getWidth(), "the teacher at --steps, the student at 1 and 2 steps");
        assertEquals(2 * (128 + 2) + 2, png.getHeight(), "one row per prompt (one seen, one two-object)");
        assertEquals(5, ((List<?>) Json.parseObject(json).get("rows")).size());
    }

    @Test
    void compareRefusesFlagsThatWouldOverrideEachModelsOwnSampling(@TempDir Path dir) {
        String model = dir.resolve("no-such-model").toString();
        assertOneLineError(run("eval", "shapes", "--model", model, "--compare", model, "--guidance", "3"), "drop --guidance 3.0");
        assertOneLineError(run("eval", "shapes", "--model", model, "--compare", model, "--steps-list", "4,0"), "--steps-list");
        assertOneLineError(run("eval", "shapes", "--model", model, "--compare", model, "--grid-prompts", "0"), "--grid-prompts must be at least 1, got 0");
        assertOneLineError(run("eval", "shapes", "--model", model, "--steps-list", "1,2"), "--steps-list goes with --compare");
        CliTest.Result missing = run("eval", "shapes", "--model", tiny().toString(), "--compare", model, "--limit", "1");
        assertOneLineError(missing, "--compare " + model);
        assertFalse(missing.err().contains(" at "), "refused before any model runs: " + missing.err());
    }

    @Test
    void samplesAsGenerateDoes() {
        Map<String, Object> folder = Map.of("steps", 12, "guidance", 4.0, "scheduler", "dpmpp_2m", "karras", true);
        assertEquals(new Sampling(12, 4.0, "dpmpp_2m", true), EvalCommand.Shapes.sampling(folder, null, null, null, false, false));
        assertEquals(new Sampling(3, 1.0, "dpmpp_2m", true), EvalCommand.Shapes.sampling(folder, 3, 1.0, null, false, false));
        assertEquals(new Sampling(12, 4.0, "euler", false), EvalCommand.Shapes.sampling(folder, null, null, "euler", false, false),
                "a flag's scheduler replaces the folder's, Karras included");
        assertEquals(new Sampling(4, 8.5, null, false), EvalCommand.Shapes.sampling(Map.of(), null, null, null, false, true),
                "an LCM U-Net: diffusers' LatentConsistencyModelPipeline defaults, as generate uses");
        assertEquals(new Sampling(50, 7.5, null, false), EvalCommand.Shapes.sampling(Map.of(), null, null, null, false, false),
                "no defaults: diffusers' 50 steps, 7.5, the model's own scheduler");
    }

    @Test
    void badFlagsAreRefusedInOneLineBeforeLoading(@TempDir Path dir) throws Exception {
        // A model path that does not exist: each flag error must come before the model is looked at.
        String model = dir.resolve("no-such-model").toString();
        Path taken = Files.writeString(dir.resolve("taken.json"), "{}");
        String[][] cases = {
                {"--steps", "0", "--steps"},
                {"--guidance", "-1", "--guidance"},
                {"--scheduler", "nope", "unknown scheduler 'nope'"},
                {"--karras", "--karras needs --scheduler"},
                {"--groups", "seen,three", "unknown group 'three'"},
                {"--limit", "0", "--limit"},
                {"--vae-samples", "-1", "--vae-samples"},
                {"--device", "tpu", "--device"},
                {"--grid", dir.resolve("grid.jpg").toString(), "--grid must name a .png"},
                {"--json", taken.toString(), "exists; pass --overwrite"},
                {"--json", dir.resolve("missing/out.json").toString(), "is not a directory"},
        };
        for (String[] c : cases) {
            String[] flags = java.util.Arrays.copyOf(c, c.length - 1);
            String[] args = new String[4 + flags.length];
            args[0] = "eval";
            args[1] = "shapes";
            args[2] = "--model";
            args[3] = model;
            System.arraycopy(flags, 0, args, 4, flags.length);
            CliTest.Result r = run(args);
            assertOneLineError(r, c[c.length - 1]);
            assertFalse(r.err().contains("loaded"), "refused before loading: " + r.err());
        }
        assertOneLineError(run("eval", "shapes", "--model", model), "no-such-model: no such file or directory");
        assertEquals(2, run("eval", "shapes", "--no-such-flag").code(), "an unknown flag is a usage error");
    }
}
