// A run that checkpoints after k steps and continues n more must end with the same bits as a run
// loaded from that checkpoint and stepped n times: parameters, AdamW moments, EMA shadow, scheduler
// and generators. And a damaged or mismatched checkpoint is refused in one line naming the key.
package dev.ldm4j.train.optim;

import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainingCheckpointTest {
    private static final int K = 7;
    private static final int N = 6;

    /** Parameter names and shapes of the toy model; sizes below and above 16 use both randn paths. */
    private static final Map<String, int[]> SHAPES = new LinkedHashMap<>();

    static {
        SHAPES.put("proj.weight", new int[] {3, 7});
        SHAPES.put("proj.bias", new int[] {7});
        SHAPES.put("norm1.weight", new int[] {5});
    }

    private static TrainableParams newParams(boolean seeded) {
        SplittableRandom r = new SplittableRandom(17);
        TrainableParams ps = new TrainableParams();
        SHAPES.forEach((name, shape) -> {
            float[] v = new float[(int) Tensor.numel(shape)];
            if (seeded) {
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) r.nextDouble(-1, 1);
                }
            }
            ps.add(name, shape, v, new float[v.length]);
        });
        return ps;
    }

    private static TrainingState freshState() {
        TrainableParams ps = newParams(true);
        AdamW opt = new AdamW(ps, AdamW.Hyperparameters.defaults().withLr(3e-2), AdamW.biasesAndNorms());
        LrScheduler sched = new LrScheduler(LrSchedule.cosine(3, K + N), 3e-2);
        EmaModel ema = new EmaModel(ps, EmaModel.Config.defaults().withDecay(0.9));
        Map<String, TorchGenerator> gens = Map.of(
                "noise", new TorchGenerator(42),
                "dropout", new TorchGenerator(7, TorchGenerator.Precision.FLOAT64));
        return new TrainingState(0, ps, opt, sched, ema, gens);
    }

    /**
     * One step of the loop diffusers' scripts run: gradient of sum (p - c)^2 / 2 plus generator noise,
     * clip, AdamW at the scheduler's lr, scheduler step, zero grads, EMA step. Returns the next state.
     */
    private static TrainingState trainStep(TrainingState s) {
        TorchGenerator noise = s.generators().get("noise");
        TorchGenerator dropout = s.generators().get("dropout");
        float scale = 1f + 0.1f * dropout.randn(1)[0]; // one scalar draw a step: a cached normal at odd steps
        for (TrainableParams.Param p : s.params()) {
            float[] eps = noise.randn(p.numel());
            float[] keep = dropout.randn(p.numel());
            for (int i = 0; i < p.numel(); i++) {
                float g = scale * (p.value()[i] - 0.25f) + 0.3f * eps[i];
                p.grad()[i] = keep[i] > -1f ? g : 0f;
            }
        }
        GradClipping.clipGradNorm(s.params(), 1.0);
        s.optimizer().step(s.lrScheduler().lr());
        s.lrScheduler().step();
        s.params().zeroGrad();
        s.ema().step();
        return new TrainingState(s.step() + 1, s.params(), s.optimizer(), s.lrScheduler(), s.ema(), s.generators());
    }

    private static void assertSameBits(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                throw new AssertionError(what + "[" + i + "]: " + actual[i] + " after resuming, " + expected[i] + " without");
            }
        }
    }

    @Test
    void resumingFromACheckpointGivesTheSameBitsAsNotStopping(@TempDir Path tmp) {
        TrainingState a = freshState();
        for (int i = 0; i < K; i++) {
            a = trainStep(a);
        }
        Path dir = tmp.resolve("checkpoint-" + K);
        TrainingCheckpoint.save(dir, a);
        assertTrue(a.generators().get("dropout").state().hasCachedNormal(), "the checkpoint must carry a cached normal");
        for (int i = 0; i < N; i++) {
            a = trainStep(a);
        }

        TrainingState b = TrainingCheckpoint.load(dir, newParams(false));
        assertEquals(K, b.step());
        assertEquals(K, b.optimizer().stepCount());
        assertEquals(K, b.lrScheduler().position());
        assertEquals(K, b.ema().optimizationStep());
        assertEquals(a.optimizer().hyperparameters(), b.optimizer().hyperparameters());
        assertEquals(a.optimizer().noWeightDecay(), b.optimizer().noWeightDecay());
        assertEquals(a.lrScheduler().schedule(), b.lrScheduler().schedule());
        assertEquals(a.ema().config(), b.ema().config());
        for (int i = 0; i < N; i++) {
            b = trainStep(b);
        }

        assertEquals(K + N, b.step());
        assertEquals(a.lrScheduler().lr(), b.lrScheduler().lr(), 0.0);
        assertEquals(a.ema().currentDecay(), b.ema().currentDecay(), 0.0);
        for (String name : SHAPES.keySet()) {
            assertSameBits(a.params().get(name).value(), b.params().get(name).value(), name);
            assertSameBits(a.optimizer().expAvg(name), b.optimizer().expAvg(name), "exp_avg " + name);
            assertSameBits(a.optimizer().expAvgSq(name), b.optimizer().expAvgSq(name), "exp_avg_sq " + name);
            assertSameBits(a.ema().shadow(name), b.ema().shadow(name), "ema " + name);
        }
        for (String g : List.of("noise", "dropout")) {
            assertEquals(a.generators().get(g).state(), b.generators().get(g).state(), "generator " + g);
        }
    }

    @Test
    void savingWritesOneFileAtomicallyAndReplacesAnEarlierOne(@TempDir Path tmp) throws IOException {
        TrainingState s = freshState();
        Path file = TrainingCheckpoint.save(tmp, s);
        s = trainStep(s);
        TrainingCheckpoint.save(tmp, s);
        try (var listing = Files.list(tmp)) {
            assertEquals(List.of(file), listing.toList(), "no temporary file left behind");
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals("1", f.metadata().get("step"));
            assertEquals(TrainingCheckpoint.FORMAT, f.metadata().get("format"));
            assertEquals("norm1.weight\nproj.bias", f.metadata().get("adamw.no_weight_decay"));
            assertEquals(4 * SHAPES.size(), f.names().size());
        }
    }

    @Test
    void aRunWithoutEmaOrGeneratorsRoundTrips(@TempDir Path tmp) {
        TrainableParams ps = newParams(true);
        AdamW opt = new AdamW(ps);
        TrainingState s = new TrainingState(3, ps, opt, new LrScheduler(LrSchedule.constant(), 1e-4, 3), null, Map.of());
        TrainingCheckpoint.save(tmp, s);
        TrainingState back = TrainingCheckpoint.load(tmp, newParams(false));
        assertNull(back.ema());
        assertTrue(back.generators().isEmpty());
        assertEquals(3, back.lrScheduler().position());
        assertSameBits(ps.get("proj.weight").value(), back.params().get("proj.weight").value(), "proj.weight");
    }

    @Test
    void aMissingTensorIsNamed(@TempDir Path tmp) {
        Path dir = rewritten(tmp, freshState(), tensors -> tensors.remove("adamw.exp_avg_sq.proj.bias"), meta -> { });
        CheckpointException e = assertThrows(CheckpointException.class, () -> TrainingCheckpoint.load(dir, newParams(false)));
        assertOneLineNaming(e, "missing tensor 'adamw.exp_avg_sq.proj.bias'");
    }

    @Test
    void aShapeMismatchIsNamedAndLeavesTheModelUntouched(@TempDir Path tmp) {
        TrainingCheckpoint.save(tmp, freshState());
        TrainableParams other = new TrainableParams();
        float[] w = new float[21];
        other.add("proj.weight", new int[] {7, 3}, w, new float[21]);
        other.add("proj.bias", new int[] {7}, new float[7], new float[7]);
        other.add("norm1.weight", new int[] {5}, new float[5], new float[5]);
        CheckpointException e = assertThrows(CheckpointException.class, () -> TrainingCheckpoint.load(tmp, other));
        assertOneLineNaming(e, "tensor 'param.proj.weight' has shape [3, 7], the model's parameter 'proj.weight' has [7, 3]");
        assertSameBits(new float[21], w, "untouched");
    }

    @Test
    void aTensorTheModelLacksIsNamed(@TempDir Path tmp) {
        TrainingCheckpoint.save(tmp, freshState());
        TrainableParams fewer = new TrainableParams();
        fewer.add("proj.weight", new int[] {3, 7}, new float[21], new float[21]);
        fewer.add("proj.bias", new int[] {7}, new float[7], new float[7]);
        CheckpointException e = assertThrows(CheckpointException.class, () -> TrainingCheckpoint.load(tmp, fewer));
        assertTrue(e.getMessage().contains("norm1.weight"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void missingOrMalformedMetadataIsNamed(@TempDir Path tmp) {
        Path noLr = rewritten(tmp.resolve("a"), freshState(), t -> { }, m -> m.remove("adamw.lr"));
        assertOneLineNaming(assertThrows(CheckpointException.class, () -> TrainingCheckpoint.load(noLr, newParams(false))),
                "metadata 'adamw.lr' is missing");
        Path badWords = rewritten(tmp.resolve("b"), freshState(), t -> { }, m -> m.put("generator.noise.mt19937", "00ff"));
        assertOneLineNaming(assertThrows(CheckpointException.class, () -> TrainingCheckpoint.load(badWords, newParams(false))),
                "metadata 'generator.noise.mt19937' is '00ff', not 624 words of 8 hex digits");
        Path badStep = rewritten(tmp.resolve("c"), freshState(), t -> { }, m -> m.put("step", "-3"));
        assertOneLineNaming(assertThrows(CheckpointException.class, () -> TrainingCheckpoint.load(badStep, newParams(false))),
                "metadata 'step' is '-3', not a non-negative integer");
    }

    @Test
    void aDirectoryWithoutACheckpointIsNamed(@TempDir Path tmp) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> TrainingCheckpoint.load(tmp, newParams(false)));
        assertOneLineNaming(e, TrainingCheckpoint.FILE_NAME + ": no such file");
    }

    private static void assertOneLineNaming(CheckpointException e, String fragment) {
        assertNotNull(e.getMessage());
        assertTrue(e.getMessage().contains(fragment), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    /** Saves state, then rewrites the file with its tensors and metadata edited. Returns the directory. */
    private static Path rewritten(Path dir, TrainingState state, Consumer<Map<String, Tensor>> editTensors,
                                  Consumer<Map<String, String>> editMetadata) {
        Path file = TrainingCheckpoint.save(dir, state);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata;
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String name : f.names()) {
                Tensor t = f.tensor(name);
                tensors.put(name, Tensor.of(t.toFloatArray(), t.shape()));
            }
            metadata = new LinkedHashMap<>(f.metadata());
        }
        editTensors.accept(tensors);
        editMetadata.accept(metadata);
        SafetensorsWriter.write(file, tensors, metadata, null, true);
        return dir;
    }
}
