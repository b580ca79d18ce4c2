// generate --lora FILE[:SCALE] and --embedding FILE[:TOKEN], and inspect FILE, from the command line:
// the flags' mistakes (a missing file, a scale that is no number, a pickle, a token with a space)
// are one line before any model loads and write nothing; a run on the tiny model says what the add-ons
// changed and what they left out, and records them in the PNG, whose --from-png rerun asks for the
// files; a LoRA given as --model points to --lora; inspect describes both kinds of file.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class LoraEmbeddingCliTest {
    private static Tensor filled(float v, int... shape) {
        float[] data = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < data.length; i++) {
            data[i] = v * ((i % 7) - 3);
        }
        return Tensor.of(data, shape);
    }

    /** A kohya LoRA for sd1-tiny: a LoCon conv and a to_q layer that fit, and one layer the model does not have. */
    private static Path lora(Path dir) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight", filled(0.01f, 4, 32, 3, 3));
        t.put("lora_unet_down_blocks_0_resnets_0_conv1.lora_up.weight", filled(0.02f, 32, 4, 1, 1));
        t.put("lora_unet_down_blocks_0_resnets_0_conv1.alpha", Tensor.of(new float[] {2}));
        t.put("lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", filled(0.03f, 4, 32));
        t.put("lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", filled(0.03f, 32, 4));
        t.put("lora_unet_down_blocks_9_attentions_0_proj_in.lora_down.weight", filled(0.03f, 4, 32));
        t.put("lora_unet_down_blocks_9_attentions_0_proj_in.lora_up.weight", filled(0.03f, 32, 4));
        Path f = dir.resolve("style.safetensors");
        SafetensorsWriter.write(f, t);
        return f;
    }

    private static Path embedding(Path dir) {
        Path f = dir.resolve("glow.safetensors");
        SafetensorsWriter.write(f, Map.of("emb_params", filled(0.1f, 2, 32)));
        return f;
    }

    @Test
    void flagMistakesAreOneLineBeforeAnyModelLoadsAndWriteNothing(@TempDir Path dir) throws Exception {
        String model = dir.toString();   // not a model: a run that got past the flags would fail on it instead
        Path out = dir.resolve("o.png");
        Path lora = lora(dir);
        String[] base = {"generate", "--model", model, "--prompt", "x", "--output", out.toString()};
        assertOneLineError(run(concat(base, "--lora", dir.resolve("missing.safetensors").toString())),
                "--lora " + dir.resolve("missing.safetensors") + ": no such file");
        assertOneLineError(run(concat(base, "--lora", lora + ":strong")), "the scale 'strong' is not a number");
        assertOneLineError(run(concat(base, "--lora", lora + ":NaN")), "the scale 'NaN' is not a number");
        Path pickle = Files.writeString(dir.resolve("style.pt"), "not read");
        assertOneLineError(run(concat(base, "--lora", pickle.toString())), "pickled PyTorch files are not read");
        assertOneLineError(run(concat(base, "--lora", dir.toString())), "not a file");
        Path bin = Files.writeString(dir.resolve("learned_embeds.bin"), "not read");
        assertOneLineError(run(concat(base, "--embedding", bin.toString())), "pickled PyTorch files are not read");
        assertOneLineError(run(concat(base, "--embedding", embedding(dir) + ":two words")), "must be one word");
        assertFalse(Files.exists(out));
    }

    @Test
    void aRunSaysWhatTheAddOnsChangedAndLeftOutAndRecordsThem(@TempDir Path dir) throws Exception {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        String model = SharedFixtures.conformance().resolve("sd1-tiny").toString();
        Path out = dir.resolve("o.png");
        CliTest.Result r = run("generate", "--model", model, "--prompt", "a glow house", "--negative-prompt", "glow", "--steps", "2",
                "--width", "64", "--height", "64", "--seed", "1", "--output", out.toString(),
                "--lora", lora(dir) + ":0.5", "--embedding", embedding(dir).toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("ldm4j: LoRA " + dir.resolve("style.safetensors") + " (kohya / A1111 (lora_down, lora_up, alpha)), scale 0.5:"
                + " 1 U-Net and 1 text-encoder weights merged"), r.err());
        assertTrue(r.err().contains("ldm4j: warning: " + dir.resolve("style.safetensors") + ": 1 of its 3 LoRA layers match no weight of this model"
                + " and were left out: lora_unet_down_blocks_9_attentions_0_proj_in"), r.err());
        assertTrue(r.err().contains("ldm4j: embedding " + dir.resolve("glow.safetensors") + " (A1111 (emb_params)): token 'glow', 2 vectors of width 32"),
                r.err());
        assertTrue(Files.exists(out));

        CliTest.Result info = run("info", out.toString());
        assertTrue(info.out().contains("LoRA: \"style.safetensors:0.5\"") && info.out().contains("Embeddings: glow.safetensors"), info.out());
        assertOneLineError(run("generate", "--from-png", out.toString(), "--model", model, "--output", dir.resolve("again.png").toString()),
                "was made with the LoRA style.safetensors:0.5, of which it holds only the name; pass the file with --lora FILE[:SCALE]");
    }

    @Test
    void theLcmLoraCommandShapeRunsOnTheTinyModel(@TempDir Path dir) {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        // The README's LCM-LoRA command, with a random LoRA on the tiny model: no unconditional pass, the LCM sampler.
        Path out = dir.resolve("lcm.png");
        CliTest.Result r = run("generate", "--model", SharedFixtures.conformance().resolve("sd1-tiny").toString(), "--prompt", "a house",
                "--lora", lora(dir).toString(), "--scheduler", "lcm", "--steps", "4", "--guidance", "1", "--width", "64", "--height", "64",
                "--seed", "2", "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        assertEquals(4, r.err().lines().filter(l -> l.startsWith("step ")).count(), r.err());
        assertTrue(Files.exists(out));
    }

    @Test
    void aLoraGivenAsTheModelPointsToTheFlag(@TempDir Path dir) {
        assertOneLineError(run("generate", "--model", lora(dir).toString(), "--prompt", "x", "--output", dir.resolve("o.png").toString()),
                "not a whole model; load a base model and apply the LoRA to it with --lora FILE[:SCALE]");
    }

    @Test
    void inspectDescribesLoraAndEmbeddingFiles(@TempDir Path dir) {
        CliTest.Result l = run("inspect", lora(dir).toString());
        assertEquals(0, l.code(), l.err());
        assertTrue(l.out().contains("Kind:         LoRA, kohya / A1111 (lora_down, lora_up, alpha)"), l.out());
        assertTrue(l.out().contains("Layers:       3 (U-Net 2, text encoder 1)"), l.out());
        assertTrue(l.out().contains("Rank:         4 (all)"), l.out());
        assertTrue(l.out().contains("Alpha:        none (= rank) x2, 2 x1; scale per layer alpha/rank: 1 x2, 0.5 x1"), l.out());
        assertTrue(l.out().contains("Layer shapes: linear x2, conv 3x3 x1"), l.out());
        assertTrue(l.out().contains("down_blocks.0 x1") && l.out().contains("down_blocks.9 x1") && l.out().contains("text layer 0 x1"), l.out());
        assertTrue(l.out().contains("conv1 x1") && l.out().contains("proj_in x1") && l.out().contains("q_proj x1"), l.out());

        CliTest.Result e = run("inspect", embedding(dir).toString());
        assertEquals(0, e.code(), e.err());
        assertTrue(e.out().contains("Kind:         textual-inversion embedding, A1111 (emb_params)"), e.out());
        assertTrue(e.out().contains("Token:        'glow' (the file's name)"), e.out());
        assertTrue(e.out().contains("Vectors:      2 of width 32;"), e.out());

        assertOneLineError(run("inspect"), "give something to inspect");
    }

    @Test
    void inspectWithAModelSaysWhatApplyingTheFileDoesThere(@TempDir Path dir) {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        String model = SharedFixtures.conformance().resolve("sd1-tiny").toString();
        CliTest.Result l = run("inspect", lora(dir).toString(), "--model", model);
        assertEquals(0, l.code(), l.err());
        assertTrue(l.out().contains("Kind:         LoRA"), l.out());
        assertTrue(l.out().contains("Applied:      LoRA " + dir.resolve("style.safetensors")) && l.out().contains("1 U-Net and 1 text-encoder weights"), l.out());
        assertTrue(l.out().contains("Left out:     " + dir.resolve("style.safetensors") + ": 1 of its 3 LoRA layers match no weight"), l.out());

        Path wide = dir.resolve("wide.safetensors");
        SafetensorsWriter.write(wide, Map.of("emb_params", filled(0.1f, 1, 768)));
        assertOneLineError(run("inspect", wide.toString(), "--model", model), "its vectors have width 768, but this model's text encoder takes 32");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
