// ./ldm4j train vae | unet from the command line: every bad flag is refused in one line with nothing written;
// a short run of each on shapes (a tiny architecture at 16x16 pixels) lowers its loss clearly, writes a diffusers
// folder with its log, curve and pictures, and the U-Net's folder generates an image with ./ldm4j generate.
package dev.ldm4j.cli;

import dev.ldm4j.weights.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainCommandTest {
    /** VAE [8, 8] (factor 2), U-Net [16, 32] with cross-attention, a 2-layer text encoder of width 16. */
    static final String TINY_ARCH = """
            {"vae": {"block_out_channels": [8, 8], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
                     "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "layers_per_block": 1, "latent_channels": 4,
                     "norm_num_groups": 4, "mid_block_add_attention": false, "scaling_factor": 1.0},
             "unet": {"block_out_channels": [16, 32], "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
                      "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "layers_per_block": 1, "norm_num_groups": 8,
                      "cross_attention_dim": 16, "attention_head_dim": 2, "in_channels": 4, "out_channels": 4, "sample_size": 8},
             "text_encoder": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
                              "max_position_embeddings": 77, "hidden_act": "quick_gelu"},
             "scheduler": {"class": "DDIMScheduler", "config": {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                           "beta_schedule": "scaled_linear", "clip_sample": false, "set_alpha_to_one": false, "steps_offset": 0,
                           "prediction_type": "v_prediction", "timestep_spacing": "trailing", "rescale_betas_zero_snr": true}},
             "defaults": {"steps": 4, "guidance": 3.0}}
            """;

    @Test
    void badFlagsAreRefusedInOneLineAndNothingIsWritten(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        assertOneLineError(run("train", "unet", "--data", "shapes", "--out", out.toString()), "--vae");
        assertOneLineError(run("train", "vae", "--data", "shapes", "--out", out.toString(), "--batch", "0"), "--batch");
        assertOneLineError(run("train", "vae", "--data", "shapes", "--out", out.toString(), "--lr", "NaN"), "--lr");
        assertOneLineError(run("train", "vae", "--data", "shapes", "--out", out.toString(), "--replicas", "0"), "--replicas");
        assertOneLineError(run("train", "vae", "--data", "shapes", "--out", out.toString(), "--batch", "2", "--replicas", "3"), "--replicas");
        assertOneLineError(run("train", "vae", "--data", "shapes", "--out", out.toString(), "--steps", "-3"), "--steps");
        assertOneLineError(run("train", "vae", "--data", "shapes", "--out", out.toString(), "--lr-schedule", "zigzag"), "--lr-schedule");
        assertOneLineError(run("train", "vae", "--data", "shapes", "--out", out.toString(), "--resolution", "30"), "--resolution");
        assertOneLineError(run("train", "vae", "--data", "shapes", "--out", out.toString(), "--kl-weight", "-1"), "--kl-weight");
        assertOneLineError(run("train", "vae", "--data", tmp.resolve("nowhere").toString(), "--out", out.toString()), "--data");
        assertOneLineError(run("train", "unet", "--data", "shapes", "--out", out.toString(), "--vae", tmp.toString()), "vae/config.json");
        assertOneLineError(run("train", "unet", "--data", "shapes", "--out", out.toString(), "--vae", tmp.toString(), "--caption-dropout", "2"), "--caption-dropout");
        assertOneLineError(run("train", "unet", "--data", "shapes", "--out", out.toString(), "--model", tmp.toString(), "--prediction", "v"), "--prediction");
        assertOneLineError(run("train", "unet", "--data", "shapes", "--out", out.toString(), "--vae", tmp.toString(), "--prediction", "x0"), "--prediction");
        assertOneLineError(run("train", "unet", "--data", "shapes", "--out", out.toString(), "--vae", tmp.toString(), "--timestep-bias", "middle"), "--timestep-bias");
        assertOneLineError(run("train", "unet", "--data", "shapes", "--out", out.toString(), "--vae", tmp.toString(), "--timestep-bias", "later",
                "--timestep-bias-multiplier", "0"), "--timestep-bias-multiplier");
        assertFalse(Files.exists(out), "nothing written");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "mine");
        assertOneLineError(run("train", "vae", "--data", "shapes", "--out", out.toString()), "--resume");
        assertEquals("mine", Files.readString(out.resolve("keep.txt")));
        Path emptyFolder = Files.createDirectories(tmp.resolve("no-images"));
        assertOneLineError(run("train", "vae", "--data", emptyFolder.toString(), "--out", tmp.resolve("o2").toString()), "no-images");
    }

    @Test
    void shortRunsOnShapesLowerTheLossAndTheFolderGenerates(@TempDir Path tmp) throws IOException {
        Path arch = tmp.resolve("arch.json");
        Files.writeString(arch, TINY_ARCH);
        Path vae = tmp.resolve("vae"), model = tmp.resolve("model");
        CliTest.Result v = run("train", "vae", "--data", "shapes", "--resolution", "16", "--arch", arch.toString(), "--out", vae.toString(),
                "--steps", "60", "--batch", "4", "--lr", "1e-2", "--lr-schedule", "constant", "--log-every", "1", "--save-every", "100",
                "--gradient-checkpointing");
        assertEquals(0, v.code(), v.err());
        assertDecreased(vae.resolve("train-log.jsonl"), 5);
        for (String f : List.of("vae/config.json", "vae/diffusion_pytorch_model.safetensors", "loss.png", "reconstructions.png", "checkpoint/training_state.safetensors")) {
            assertTrue(Files.isRegularFile(vae.resolve(f)), f);
        }

        CliTest.Result u = run("train", "unet", "--data", "shapes", "--resolution", "16", "--arch", arch.toString(), "--vae", vae.toString(),
                "--out", model.toString(), "--steps", "60", "--batch", "8", "--lr", "2e-3", "--warmup", "5", "--log-every", "1",
                "--save-every", "1000", "--sample-prompt", "a red circle");
        assertEquals(0, u.code(), u.err());
        assertDecreased(model.resolve("train-log.jsonl"), 20);
        for (String f : List.of("model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors", "text_encoder/config.json",
                "text_encoder/model.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt", "scheduler/scheduler_config.json",
                "vae/config.json", "samples.png", "loss.png")) {
            assertTrue(Files.isRegularFile(model.resolve(f)), f);
        }
        assertTrue(Files.readString(model.resolve("scheduler/scheduler_config.json")).matches("(?s).*\"prediction_type\"\\s*:\\s*\"v_prediction\".*"),
                "without --prediction the architecture's prediction_type is kept");
        Path png = tmp.resolve("x.png");
        CliTest.Result g = run("generate", "--model", model.toString(), "--prompt", "a blue square", "--seed", "1", "--output", png.toString());
        assertEquals(0, g.code(), g.err());
        assertTrue(g.err().contains("4 steps"), "the folder's own defaults: " + g.err());
        assertTrue(Files.size(png) > 0);
    }

    /** The mean of the last n logged losses is below 0.8x the mean of the first n. */
    @SuppressWarnings("unchecked")
    private static void assertDecreased(Path log, int n) throws IOException {
        List<String> lines = Files.readAllLines(log);
        double first = 0, last = 0;
        for (int i = 0; i < n; i++) {
            first += ((Number) ((Map<String, Object>) Json.parse(lines.get(i))).get("loss")).doubleValue();
            last += ((Number) ((Map<String, Object>) Json.parse(lines.get(lines.size() - 1 - i))).get("loss")).doubleValue();
        }
        assertTrue(last < 0.8 * first, log + ": first " + n + " mean " + first / n + ", last " + n + " mean " + last / n);
    }
}
