// The training loop on a tiny VAE (two levels of 8 channels, no attention) over shapes: a run interrupted and
// resumed gives the same weights, bit for bit, as one that ran straight through; the log, the loss curve and the
// model folder are written; and training on one repeated batch drives the loss far down (the model can fit).
package dev.ldm4j.train;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.data.CaptionedImage;
import dev.ldm4j.train.data.CaptionedImageDataset;
import dev.ldm4j.train.data.ShapesDataset;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainingLoopTest {
    static Map<String, Object> tinyVae() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("block_out_channels", List.of(8, 8));
        c.put("layers_per_block", 1);
        c.put("latent_channels", 4);
        c.put("norm_num_groups", 4);
        c.put("mid_block_add_attention", false);
        c.put("scaling_factor", 1.0);
        return c;
    }

    private static TrainingLoop.Settings settings(long steps, int saveEvery) {
        return new TrainingLoop.Settings(steps, 2, 3e-3, "cosine", 2, 0.01, 1.0, 0.9, 5, 1, saveEvery);
    }

    private static Map<String, Tensor> run(Path out, long steps, long stopAt, boolean resume, CaptionedImageDataset data) {
        TrainableWeights w = resume && Files.exists(out.resolve("checkpoint"))
                ? TrainableWeights.copyOf(SafetensorsFile.open(out.resolve("vae/diffusion_pytorch_model.safetensors")))
                : ModelInit.vae(VaeConfig.fromJson(tinyVae()), 3);
        AutogradBackend ag = new AutogradBackend(Backends.create("cpu"));
        VaeTraining objective = new VaeTraining(tinyVae(), w, ag, 1e-3f, VaeLoss.Reconstruction.MSE, data, 5);
        new TrainingLoop(settings(steps, 100), w.parameters(), ag, objective, data, out,
                new PrintStream(new ByteArrayOutputStream())).stopAt(stopAt).run(resume);
        return w.parameters();
    }

    @Test
    void aResumedRunEqualsAnUninterruptedOneBitForBit(@TempDir Path tmp) {
        CaptionedImageDataset data = new ShapesDataset(1, 16);
        Map<String, Tensor> straight = run(tmp.resolve("a"), 6, Long.MAX_VALUE, false, data);
        run(tmp.resolve("b"), 6, 3, false, data);                      // interrupted after step 3 (it saves there)
        Map<String, Tensor> resumed = run(tmp.resolve("b"), 6, Long.MAX_VALUE, true, data);
        for (String name : straight.keySet()) {
            assertArrayEquals(straight.get(name).toFloatArray(), resumed.get(name).toFloatArray(), name);
        }
        Path b = tmp.resolve("b");
        assertTrue(Files.isRegularFile(b.resolve("loss.png")));
        assertTrue(Files.isRegularFile(b.resolve("reconstructions.png")));
        assertTrue(Files.isRegularFile(b.resolve("vae/config.json")));
        List<String> log = readLines(b.resolve("train-log.jsonl"));
        assertEquals(6, log.size(), "one record per step, the resumed run continuing the log");
        @SuppressWarnings("unchecked")
        Map<String, Object> last = (Map<String, Object>) Json.parse(log.get(5));
        for (String key : List.of("step", "loss", "rec", "kl", "lr", "samples_per_s")) {
            assertTrue(last.containsKey(key), key + " in " + last);
        }
        assertEquals(6L, ((Number) last.get("step")).longValue());
    }

    @Test
    void oneRepeatedBatchIsFitted(@TempDir Path tmp) {
        ShapesDataset shapes = new ShapesDataset(2, 16);
        CaptionedImage a = shapes.get(0), b = shapes.get(1);
        CaptionedImageDataset oneBatch = new CaptionedImageDataset() {
            public int resolution() {
                return 16;
            }

            public long size() {
                return Long.MAX_VALUE;
            }

            public CaptionedImage get(long index) {
                return index % 2 == 0 ? a : b;
            }
        };
        TrainableWeights w = ModelInit.vae(VaeConfig.fromJson(tinyVae()), 3);
        AutogradBackend ag = new AutogradBackend(Backends.create("cpu"));
        VaeTraining objective = new VaeTraining(tinyVae(), w, ag, 0f, VaeLoss.Reconstruction.MSE, oneBatch, 5);
        TrainingLoop.Settings s = new TrainingLoop.Settings(150, 2, 1e-2, "constant", 0, 0, 1.0, 0, 5, 1, 1000);
        Path out = tmp.resolve("fit");
        new TrainingLoop(s, w.parameters(), ag, objective, oneBatch, out, new PrintStream(new ByteArrayOutputStream())).run(false);
        List<String> log = readLines(out.resolve("train-log.jsonl"));
        double first = loss(log.get(0)), last = loss(log.get(log.size() - 1));
        assertTrue(last < 0.05 * first, "loss " + first + " -> " + last);
    }

    @Test
    void decoderOnlyTrainingLeavesTheEncoderAsItWas(@TempDir Path tmp) {
        CaptionedImageDataset data = new ShapesDataset(1, 16);
        TrainableWeights w = ModelInit.vae(VaeConfig.fromJson(tinyVae()), 3);
        Map<String, float[]> before = new java.util.HashMap<>();
        w.parameters().forEach((k, v) -> before.put(k, v.toFloatArray()));
        AutogradBackend ag = new AutogradBackend(Backends.create("cpu"));
        VaeTraining objective = new VaeTraining(tinyVae(), w, ag, 1e-3f, VaeLoss.Reconstruction.MSE, data, 5);
        Map<String, Tensor> trainable = objective.trainable(true);
        assertTrue(trainable.keySet().stream().allMatch(k -> k.startsWith("decoder.") || k.startsWith("post_quant_conv.")));
        new TrainingLoop(settings(3, 100), trainable, ag, objective, data, tmp.resolve("d"), new PrintStream(new ByteArrayOutputStream())).run(false);
        assertEquals(1.0, ((Number) Json.parseObject(tmp.resolve("d/vae/config.json")).get("scaling_factor")).doubleValue(),
                "the scaling factor the U-Net was trained with is kept");
        w.parameters().forEach((k, v) -> {
            boolean same = java.util.Arrays.equals(before.get(k), v.toFloatArray());
            if (k.startsWith("encoder.") || k.startsWith("quant_conv.")) {
                assertTrue(same, k + " is frozen");
            } else if (k.endsWith("conv_out.weight")) {
                assertFalse(same, k + " trains");
            }
        });
    }

    @SuppressWarnings("unchecked")
    private static double loss(String line) {
        return ((Number) ((Map<String, Object>) Json.parse(line)).get("loss")).doubleValue();
    }

    private static List<String> readLines(Path p) {
        try {
            return Files.readAllLines(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
