// ./ldm4j distill progressive | consistency from the command line, on a tiny teacher trained for a few steps
// (TrainCommandTest's architecture at 16x16 pixels, v-prediction): every bad flag is refused in one line naming the
// flag and its value, with nothing written; a short run of each writes a diffusers folder that ./ldm4j generate
// samples at the folder's own defaults (1 DDIM step without guidance; 4 LCM steps); a run stopped and resumed
// ends with the same weights as one run straight through; a student of another architecture is smaller.
package dev.ldm4j.cli;

import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DistillCommandTest {
    @TempDir
    static Path shared;
    static Path teacher;

    @BeforeAll
    static void trainTinyTeacher() throws IOException {
        Path arch = shared.resolve("arch.json");
        Files.writeString(arch, TrainCommandTest.TINY_ARCH);
        Path vae = shared.resolve("vae");
        teacher = shared.resolve("teacher");
        CliTest.Result v = run("train", "vae", "--data", "shapes", "--resolution", "16", "--arch", arch.toString(), "--out", vae.toString(),
                "--steps", "2", "--batch", "2", "--save-every", "100");
        assertEquals(0, v.code(), v.err());
        CliTest.Result u = run("train", "unet", "--data", "shapes", "--resolution", "16", "--arch", arch.toString(), "--vae", vae.toString(),
                "--out", teacher.toString(), "--steps", "2", "--batch", "2", "--prediction", "v", "--save-every", "100", "--sample-prompt", "a red circle");
        assertEquals(0, u.code(), u.err());
    }

    private static String[] progressive(Path out, String... more) {
        return args(List.of("distill", "progressive"), List.of("--teacher", teacher.toString(), "--out", out.toString(), "--resolution", "16",
                "--from-steps", "4", "--to-steps", "1", "--steps-per-round", "3", "--batch", "2", "--warmup", "1", "--save-every", "100",
                "--log-every", "1", "--sample-prompt", "a red circle"), more);
    }

    private static String[] consistency(Path out, String... more) {
        return args(List.of("distill", "consistency"), List.of("--teacher", teacher.toString(), "--out", out.toString(), "--resolution", "16",
                "--steps", "3", "--skip", "100", "--batch", "2", "--warmup", "1", "--save-every", "100", "--log-every", "1",
                "--sample-prompt", "a red circle"), more);
    }

    /** The command, its base options (flag, value pairs) with those of more replacing them, then more's other flags. */
    private static String[] args(List<String> command, List<String> base, String... more) {
        Map<String, String> options = new java.util.LinkedHashMap<>();
        for (int i = 0; i < base.size(); i += 2) {
            options.put(base.get(i), base.get(i + 1));
        }
        List<String> switches = new java.util.ArrayList<>();
        for (int i = 0; i < more.length; i++) {
            if (more[i].equals("--resume") || more[i].equals("--overwrite")) {
                switches.add(more[i]);
            } else {
                options.put(more[i], more[++i]);
            }
        }
        List<String> all = new java.util.ArrayList<>(command);
        options.forEach((k, v) -> {
            all.add(k);
            all.add(v);
        });
        all.addAll(switches);
        return all.toArray(String[]::new);
    }

    @Test
    void badFlagsAreRefusedInOneLineNamingFlagAndValueAndNothingIsWritten(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        assertOneLineError(run(progressive(out, "--teacher", tmp.resolve("nowhere").toString())), "--teacher");
        assertOneLineError(run(progressive(out, "--from-steps", "12", "--to-steps", "4")), "--from-steps 12");
        assertOneLineError(run(progressive(out, "--from-steps", "12", "--to-steps", "3")), "--to-steps 3");
        assertOneLineError(run(progressive(out, "--steps-per-round", "0")), "--steps-per-round must be at least 1, got 0");
        assertOneLineError(run(progressive(out, "--guidance", "0.5")), "--guidance must be a finite number >= 1, got 0.5");
        assertOneLineError(run(consistency(out, "--skip", "7")), "--skip 7");
        assertOneLineError(run(consistency(out, "--w-min", "3", "--w-max", "2")), "--w-max must be a finite number >= --w-min (3.0), got 2.0");
        assertOneLineError(run(consistency(out, "--solver", "euler")), "--solver must be ddim, got 'euler'");
        assertOneLineError(run(consistency(out, "--ema-decay", "0")), "--ema-decay must be in (0, 1)");
        assertOneLineError(run(consistency(out, "--lr", "-1")), "--lr must be a positive number, got -1.0");
        Path wide = tmp.resolve("wide.json");
        Files.writeString(wide, "{\"unet\": {\"in_channels\": 8}}");
        assertOneLineError(run(consistency(out, "--student-arch", wide.toString())), "--student-arch " + wide);
        assertOneLineError(run(progressive(out, "--student-arch", wide.toString())), "in_channels");
        assertOneLineError(run(progressive(out, "--student-arch", tmp.resolve("none.json").toString())), "--student-arch");
        assertFalse(Files.exists(out), "nothing written");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "mine");
        assertOneLineError(run(consistency(out)), "--resume");
        assertOneLineError(run(progressive(out)), "--resume");
        assertEquals(List.of(out.resolve("keep.txt")), Files.list(out).toList());
    }

    @Test
    void progressiveWritesAOneStepFolderThatGeneratesAndResumesExactly(@TempDir Path tmp) throws IOException {
        Path straight = tmp.resolve("straight"), stopped = tmp.resolve("stopped");
        CliTest.Result r = run(progressive(straight));
        assertEquals(0, r.code(), r.err());
        assertEquals(Map.of("steps", 1L, "guidance", 1.0), Json.parseObject(straight.resolve("ldm4j_defaults.json")));
        Map<String, Object> sched = Json.parseObject(straight.resolve("scheduler/scheduler_config.json"));
        assertEquals("DDIMScheduler", sched.get("_class_name"));
        assertEquals("trailing", sched.get("timestep_spacing"));
        assertEquals("v_prediction", sched.get("prediction_type"));
        for (String f : List.of("rounds/round-1-2steps/checkpoint/training_state.safetensors", "rounds/round-2-1steps/unet/config.json",
                "unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors", "tokenizer/vocab.json", "vae/config.json")) {
            assertTrue(Files.isRegularFile(straight.resolve(f)), f);
        }
        assertGenerates(straight, tmp, "1 steps");
        assertServedAsBuiltIn(straight, tmp, "shapes-pd");

        CliTest.Result first = run(progressive(stopped, "--stop-after", "4"));
        assertEquals(0, first.code(), first.err());
        assertFalse(Files.exists(stopped.resolve("unet")), "no final student before the last round ends");
        Path log = stopped.resolve("rounds/round-2-1steps/train-log.jsonl");
        assertEquals(1, Files.readAllLines(log).size(), "round 2 stopped after its first step (step 4 of the run)");
        String kept = Files.readAllLines(log).get(0);
        CliTest.Result rest = run(progressive(stopped, "--resume"));
        assertEquals(0, rest.code(), rest.err());
        assertEquals(kept, Files.readAllLines(log).get(0), "resumed from the checkpoint, not started over");
        assertSameWeights(straight.resolve("unet"), stopped.resolve("unet"));
    }

    @Test
    void consistencyWritesAnLcmFolderThatGeneratesInFourStepsAndResumesExactly(@TempDir Path tmp) throws IOException {
        Path straight = tmp.resolve("straight"), stopped = tmp.resolve("stopped");
        CliTest.Result r = run(consistency(straight, "--guidance", "4"));
        assertEquals(0, r.code(), r.err());
        Map<String, Object> unet = Json.parseObject(straight.resolve("unet/config.json"));
        assertEquals(256L, unet.get("time_cond_proj_dim"));
        Map<String, Object> sched = Json.parseObject(straight.resolve("scheduler/scheduler_config.json"));
        assertEquals("LCMScheduler", sched.get("_class_name"));
        assertEquals(10L, sched.get("original_inference_steps"), "1000 / K");
        assertEquals(Map.of("steps", 4L, "guidance", 4.0, "scheduler", "lcm"), Json.parseObject(straight.resolve("ldm4j_defaults.json")));
        try (SafetensorsFile f = SafetensorsFile.open(straight.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            float[] proj = f.tensor("time_embedding.cond_proj.weight").toFloatArray();
            double norm = 0;
            for (float v : proj) {
                norm += v * v;
            }
            assertTrue(norm > 0, "the guidance projection, zero at the start, has learned from w");
        }
        assertGenerates(straight, tmp, "4 steps");
        assertServedAsBuiltIn(straight, tmp, "shapes-lcm");

        assertEquals(0, run(consistency(stopped, "--guidance", "4", "--stop-after", "2")).code());
        List<String> kept = Files.readAllLines(stopped.resolve("train-log.jsonl"));
        assertEquals(2, kept.size());
        CliTest.Result rest = run(consistency(stopped, "--guidance", "4", "--resume"));
        assertEquals(0, rest.code(), rest.err());
        assertEquals(kept, Files.readAllLines(stopped.resolve("train-log.jsonl")).subList(0, 2), "resumed from the checkpoint, not started over");
        assertSameWeights(straight.resolve("unet"), stopped.resolve("unet"));
    }

    @Test
    void aStudentOfFewerChannelsIsSmallerAndGenerates(@TempDir Path tmp) throws IOException {
        Path arch = tmp.resolve("small.json");
        Files.writeString(arch, "{\"unet\": {\"block_out_channels\": [8, 16], \"norm_num_groups\": 4}}");
        Path out = tmp.resolve("small");
        CliTest.Result r = run(consistency(out, "--student-arch", arch.toString()));
        assertEquals(0, r.code(), r.err());
        assertTrue(parameters(out.resolve("unet")) < parameters(teacher.resolve("unet")) / 3,
                parameters(out.resolve("unet")) + " vs the teacher's " + parameters(teacher.resolve("unet")));
        assertEquals(List.of(8L, 16L), Json.parseObject(out.resolve("unet/config.json")).get("block_out_channels"));
        assertGenerates(out, tmp, "4 steps");
    }

    private static void assertGenerates(Path model, Path tmp, String steps) throws IOException {
        Path png = tmp.resolve(model.getFileName() + ".png");
        CliTest.Result g = run("generate", "--model", model.toString(), "--prompt", "a blue square", "--seed", "1", "--output", png.toString());
        assertEquals(0, g.code(), g.err());
        assertTrue(g.err().contains(steps), "the folder's own defaults (" + steps + "): " + g.err());
        assertTrue(Files.size(png) > 0);
    }

    /** With the folder at models/NAME of an ldm4j home, ./ldm4j models lists NAME and --model NAME generates from it. */
    private static void assertServedAsBuiltIn(Path folder, Path tmp, String name) throws IOException {
        Path home = tmp.resolve("home");
        Files.createDirectories(home.resolve("models"));
        Files.createSymbolicLink(home.resolve("models").resolve(name), folder.toAbsolutePath());
        String before = System.getProperty("ldm4j.home");
        System.setProperty("ldm4j.home", home.toString());
        try {
            CliTest.Result m = run("models");
            assertEquals(0, m.code(), m.err());
            assertTrue(m.out().lines().anyMatch(l -> l.startsWith(name + " ")), m.out());
            Path png = tmp.resolve(name + ".png");
            CliTest.Result g = run("generate", "--model", name, "--prompt", "a red circle", "--seed", "2", "--output", png.toString());
            assertEquals(0, g.code(), g.err());
        } finally {
            if (before == null) {
                System.clearProperty("ldm4j.home");
            } else {
                System.setProperty("ldm4j.home", before);
            }
        }
    }

    private static void assertSameWeights(Path a, Path b) {
        try (SafetensorsFile x = SafetensorsFile.open(a.resolve("diffusion_pytorch_model.safetensors"));
             SafetensorsFile y = SafetensorsFile.open(b.resolve("diffusion_pytorch_model.safetensors"))) {
            assertEquals(x.names(), y.names());
            for (String n : x.names()) {
                assertArrayEquals(x.tensor(n).toFloatArray(), y.tensor(n).toFloatArray(), 0f, n);
            }
        }
    }

    private static long parameters(Path unet) {
        long n = 0;
        try (SafetensorsFile f = SafetensorsFile.open(unet.resolve("diffusion_pytorch_model.safetensors"))) {
            for (String name : f.names()) {
                n += f.tensor(name).numel();
            }
        }
        return n;
    }
}
