// The CLIP text encoder against the reference (transformers 5.17, float64, stored as float32) for
// both tiny models, loaded from the diffusers folder and from the original single file (CLIP and
// OpenCLIP layouts). Tolerance: relative error ||out - ref|| / ||ref|| <= 1e-4.
package dev.ldm4j.diffusion.clip;

import dev.ldm4j.diffusion.model.ModelDiscovery;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.MapWeightSource;
import dev.ldm4j.weights.SafetensorsFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClipTextTransformerTest {
    private static final double TOLERANCE = 1e-4;
    private static Backend cpu;

    @BeforeAll
    static void backend() {
        cpu = Backends.create("cpu");
    }

    @AfterAll
    static void close() {
        cpu.close();
    }

    @ParameterizedTest(name = "{0} from {1}")
    @CsvSource({"sd1-tiny, folder", "sd1-tiny, single file", "sd2-tiny, folder", "sd2-tiny, single file"})
    void matchesTheReferenceOutputs(String model, String from) {
        Assumptions.assumeTrue(SharedFixtures.available(), "shared conformance fixtures not found");
        Path conf = SharedFixtures.conformance();
        Path path = from.equals("folder") ? conf.resolve(model) : conf.resolve(model + ".safetensors");
        Path config = from.equals("folder") ? null : conf.resolve(model);
        try (var spec = ModelDiscovery.discover(path, config, null);
             var golden = SafetensorsFile.open(conf.resolve(model).resolve("text_golden.safetensors"))) {
            Params root = Params.root(spec.textEncoderWeights(), cpu);
            ClipTextTransformer clip = new ClipTextTransformer(root, spec.textEncoder());
            assertEquals(Set.of(), root.unused(), "every text-encoder tensor is used");

            Tensor idsT = golden.tensor("text.ids");
            int[][] ids = new int[idsT.dim(0)][idsT.dim(1)];
            float[] flat = idsT.toFloatArray();
            for (int i = 0; i < ids.length; i++) {
                for (int j = 0; j < ids[i].length; j++) {
                    ids[i][j] = (int) flat[i * ids[i].length + j];
                }
            }
            ClipTextTransformer.Output out = clip.forward(ids);
            assertClose(golden.tensor("text.last_hidden_state"), cpu.toHost(out.lastHiddenState()), "last_hidden_state");
            assertClose(golden.tensor("text.penultimate_normed"), cpu.toHost(out.penultimateNormed()), "penultimate_normed");
            assertClose(golden.tensor("text.pooled"), cpu.toHost(out.pooled()), "pooled");
            assertEquals(spec.textEncoder().numHiddenLayers() + 1, out.hiddenStates().size());
        }
    }

    static void assertClose(Tensor ref, Tensor got, String what) {
        assertArrayEquals(ref.shape(), got.shape(), what + " shape");
        float[] r = ref.toFloatArray();
        float[] g = got.toFloatArray();
        double diff = 0, norm = 0;
        for (int i = 0; i < r.length; i++) {
            diff += (double) (g[i] - r[i]) * (g[i] - r[i]);
            norm += (double) r[i] * r[i];
        }
        double rel = Math.sqrt(diff / norm);
        assertTrue(rel <= TOLERANCE, what + ": relative error " + rel + " > " + TOLERANCE);
    }

    @Test
    void pooledPositionIsTheFirstEndOfTextToken() {
        ClipTextConfig c = new ClipTextConfig(10, 4, 8, 2, 1, 6, "gelu", 1e-5, 0, 8, 9);
        ClipTextTransformer clip = tiny(c);
        assertEquals(2, clip.endOfTextPosition(new int[] {8, 3, 9, 9, 9, 9}));
        assertEquals(2, clip.endOfTextPosition(new int[] {8, 3, 9, 0, 0, 0}));
        assertEquals(0, clip.endOfTextPosition(new int[] {8, 3, 4, 5, 6, 7}), "no EOS: position 0, as transformers' argmax");
    }

    @Test
    void legacyConfigWithEosTwoPoolsAtTheLargestId() {
        ClipTextConfig c = new ClipTextConfig(10, 4, 8, 2, 1, 6, "gelu", 1e-5, 1, 0, 2);
        ClipTextTransformer clip = tiny(c);
        assertEquals(3, clip.endOfTextPosition(new int[] {8, 3, 2, 9, 9, 9}));
    }

    @Test
    void tooLongOrOutOfVocabularyInputIsRefused() {
        ClipTextTransformer clip = tiny(new ClipTextConfig(10, 4, 8, 2, 1, 6, "gelu", 1e-5, 0, 8, 9));
        assertThrows(IllegalArgumentException.class, () -> clip.forward(new int[][] {{1, 2, 3, 4, 5, 6, 7}}));
        assertThrows(IllegalArgumentException.class, () -> clip.forward(new int[][] {{1, 12}}));
    }

    /** A model with zero weights from an in-memory source, for the input handling tests. */
    private static ClipTextTransformer tiny(ClipTextConfig c) {
        var src = new java.util.LinkedHashMap<String, Tensor>();
        int d = c.hiddenSize();
        src.put("text_model.embeddings.token_embedding.weight", Tensor.zeros(c.vocabSize(), d));
        src.put("text_model.embeddings.position_embedding.weight", Tensor.zeros(c.maxPositionEmbeddings(), d));
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String l = "text_model.encoder.layers." + i + ".";
            for (String n : List.of("layer_norm1", "layer_norm2")) {
                src.put(l + n + ".weight", Tensor.zeros(d));
                src.put(l + n + ".bias", Tensor.zeros(d));
            }
            for (String n : List.of("q_proj", "k_proj", "v_proj", "out_proj")) {
                src.put(l + "self_attn." + n + ".weight", Tensor.zeros(d, d));
                src.put(l + "self_attn." + n + ".bias", Tensor.zeros(d));
            }
            src.put(l + "mlp.fc1.weight", Tensor.zeros(c.intermediateSize(), d));
            src.put(l + "mlp.fc1.bias", Tensor.zeros(c.intermediateSize()));
            src.put(l + "mlp.fc2.weight", Tensor.zeros(d, c.intermediateSize()));
            src.put(l + "mlp.fc2.bias", Tensor.zeros(d));
        }
        src.put("text_model.final_layer_norm.weight", Tensor.zeros(d));
        src.put("text_model.final_layer_norm.bias", Tensor.zeros(d));
        MapWeightSource weights = new MapWeightSource("memory");
        src.forEach(weights::put);
        return new ClipTextTransformer(Params.root(weights, cpu), c);
    }
}
