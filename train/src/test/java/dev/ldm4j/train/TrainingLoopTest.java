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
        return run(out, steps, stopAt, resume, data, 1);
    }

    private static Map<String, Tensor> run(Path out, long steps, long stopAt, boolean resume, CaptionedImageDataset data, int replicas) {
        TrainableWeights w = resume && Files.exists(out.resolve("checkpoint"))
                ? TrainableWeights.copyOf(SafetensorsFile.open(out.resolve("vae/diffusion_pytorch_model.safetensors")))
                : ModelInit.vae(VaeConfig.fromJson(tinyVae()), 3);
        AutogradBackend ag = new AutogradBackend(Backends.create("cpu"));
        VaeTraining objective = new VaeTraining(tinyVae(), w, ag, 1e-3f, VaeLoss.Reconstruction.MSE, data, 5);
        new TrainingLoop(settings(steps, 100), w.parameters(), ag, objective, data, out,
                new PrintStream(new ByteArrayOutputStream())).replicas(replicas).stopAt(stopAt).run(resume);
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
    void aResumedRunInTwoPartsEqualsAnUninterruptedOneBitForBit(@TempDir Path tmp) {
        CaptionedImageDataset data = new ShapesDataset(1, 16);
        Map<String, Tensor> straight = run(tmp.resolve("a"), 4, Long.MAX_VALUE, false, data, 2);
        run(tmp.resolve("b"), 4, 2, false, data, 2);
        Map<String, Tensor> resumed = run(tmp.resolve("b"), 4, Long.MAX_VALUE, true, data, 2);
        Map<String, Tensor> whole = run(tmp.resolve("c"), 4, Long.MAX_VALUE, false, data, 1);
        boolean differs = false;
        for (String name : straight.keySet()) {
            assertArrayEquals(straight.get(name).toFloatArray(), resumed.get(name).toFloatArray(), name);
            differs |= !java.util.Arrays.equals(straight.get(name).toFloatArray(), whole.get(name).toFloatArray());
        }
        assertTrue(differs, "the parts draw their own noise, so the run differs from the undivided one");
    }

    /**
     * A deterministic loss (a linear map of a few pixels regressed onto a few others, no random draws): the batch cut
     * into parts gives the loss, gradient and terms of the whole batch, up to float rounding, also for unequal parts.
     */
    @Test
    void partsGiveTheLossAndGradientsOfTheWholeBatch() {
        ShapesDataset shapes = new ShapesDataset(3, 16);
        List<CaptionedImage> batch = new java.util.ArrayList<>();
        for (int i = 0; i < 5; i++) {
            batch.add(shapes.get(i));
        }
        Tensor w = Tensor.of(new float[] {0.3f, -0.2f, 0.5f, 0.1f, -0.4f, 0.25f, 0.2f, 0.6f, -0.3f, 0.05f, -0.1f, 0.15f}, 3, 4);
        Map<String, Tensor> weights = Map.of("w", w);
        TrainingLoop.Objective linear = new TrainingLoop.Objective() {
            @Override
            public TrainingLoop.StepLoss loss(AutogradBackend ag, List<CaptionedImage> part, dev.ldm4j.diffusion.random.TorchGenerator gen,
                                              java.util.SplittableRandom random) {
                int b = part.size();
                float[] x = new float[b * 4], y = new float[b * 3];
                for (int i = 0; i < b; i++) {
                    float[] chw = part.get(i).chw();
                    for (int j = 0; j < 4; j++) {
                        x[i * 4 + j] = chw[37 * j + 5];
                    }
                    for (int j = 0; j < 3; j++) {
                        y[i * 3 + j] = chw[300 + 41 * j];
                    }
                }
                Tensor pred = ag.linear(Tensor.of(x, b, 4), w, null, dev.ldm4j.tensor.Activation.NONE);
                Tensor loss = Losses.mse(ag, pred, Tensor.of(y, b, 3));
                return new TrainingLoop.StepLoss(loss, Map.of("twice", 2.0 * loss.toFloatArray()[0]));
            }

            @Override
            public void writeModel(Path out, long step) {
            }
        };
        double[] losses = new double[4];
        float[][] grads = new float[4][];
        Map<String, Double> wholeTerms = null;
        for (int parts = 1; parts <= 3; parts++) {
            AutogradBackend ag = new AutogradBackend(Backends.create("cpu"));
            ag.requireGrad(w);
            dev.ldm4j.train.optim.TrainableParams params = new dev.ldm4j.train.optim.TrainableParams();
            params.add("w", w);
            Map<String, Double> terms = new LinkedHashMap<>();
            losses[parts] = TrainingLoop.lossAndGradients(ag, linear, weights, params, batch, parts,
                    k -> new dev.ldm4j.diffusion.random.TorchGenerator(k), k -> new java.util.SplittableRandom(k), terms);
            grads[parts] = params.iterator().next().grad().clone();
            if (parts == 1) {
                wholeTerms = terms;
            } else {
                assertEquals(losses[1], losses[parts], 1e-6 * losses[1], parts + " parts: loss");
                assertEquals(wholeTerms.get("twice"), terms.get("twice"), 1e-6 * wholeTerms.get("twice"), parts + " parts: term");
                for (int j = 0; j < grads[1].length; j++) {
                    assertEquals(grads[1][j], grads[parts][j], 1e-6 * Math.max(1e-3, Math.abs(grads[1][j])), parts + " parts: gradient " + j);
                }
            }
        }
        assertTrue(losses[1] > 0 && Math.abs(grads[1][0]) > 0, "the check is not on zeros");
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
