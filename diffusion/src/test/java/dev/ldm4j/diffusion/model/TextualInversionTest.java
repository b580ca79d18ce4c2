// Textual-inversion embeddings (ModelAddons, EmbeddingFile) on the tiny SD 1.x model: random
// embeddings in the A1111 and diffusers layouts, one and several vectors per token, give the text
// encoder's output for those vectors fed directly (a text model built here with existing rows of its
// token table replaced by them); an embedding equal to existing rows gives, in prompt and negative
// prompt, the image of those words; widths, tokens and file kinds that cannot be used fail in one line.
package dev.ldm4j.diffusion.model;

import dev.ldm4j.diffusion.clip.ClipTextTransformer;
import dev.ldm4j.diffusion.pipeline.GenerationRequest;
import dev.ldm4j.diffusion.pipeline.GenerationResult;
import dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline;
import dev.ldm4j.diffusion.pipeline.StepListener;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.MapWeightSource;
import dev.ldm4j.weights.SafetensorsWriter;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;
import dev.ldm4j.weights.embeddings.EmbeddingException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TextualInversionTest {
    private static final int WIDTH = 32;   // sd1-tiny's text encoder
    private static Backend cpu;
    private static Path model;

    @BeforeAll
    static void setUp() {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures not found");
        cpu = Backends.create("cpu");
        model = SharedFixtures.conformance().resolve("sd1-tiny");
    }

    @AfterAll
    static void tearDown() {
        if (cpu != null) {
            cpu.close();
        }
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * 0.5);
        }
        return v;
    }

    private static int id(ClipTokenizer t, String word) {
        int[] ids = t.tokenIds(word);
        assertEquals(1, ids.length, word + " is one token");
        return ids[0];
    }

    @Test
    void randomEmbeddingsInBothLayoutsGiveTheEncoderOutputOfTheirVectorsFedDirectly(@TempDir Path dir) {
        SplittableRandom r = new SplittableRandom(11);
        float[] two = random(r, 2 * WIDTH);      // A1111, two vectors for one token
        float[] one = random(r, WIDTH);          // diffusers, one vector [D], named by its token
        Path a1111 = dir.resolve("painterly.safetensors");
        SafetensorsWriter.write(a1111, Map.of("emb_params", Tensor.of(two, 2, WIDTH)));
        Path diffusers = dir.resolve("learned_embeds.safetensors");
        SafetensorsWriter.write(diffusers, Map.of("<sks>", Tensor.of(one, WIDTH)));

        try (StableDiffusionModelSpec spec = ModelDiscovery.discover(model, null, null)) {
            ModelAddons.Applied a = ModelAddons.apply(spec, List.of(),
                    List.of(new ModelAddons.Embedding(a1111, null), new ModelAddons.Embedding(diffusers, "<sks>")));
            assertTrue(a.summary().get(0).contains("token 'painterly', 2 vectors of width 32"), a.summary().toString());
            assertTrue(a.summary().get(1).contains("token '<sks>', 1 vector of width 32"), a.summary().toString());
            try (StableDiffusionModel withEmbeddings = StableDiffusionModel.load(a.spec(), cpu)) {
                ClipTokenizer tok = withEmbeddings.tokenizer();
                int v = spec.textEncoder().vocabSize();
                int[] ids = tok.encode("a Painterly house by <sks>").ids();
                assertArrayEquals(new int[] {tok.bosId(), id(tok, "a"), v, v + 1, id(tok, "house"), id(tok, "by"), v + 2, tok.eosId()},
                        Arrays.copyOf(ids, 8), "the tokens expand to their rows past the vocabulary, whatever their case");

                // The reference: the base text model with the rows of "cat", "dog" and "bird" replaced by the vectors.
                int cat = id(tok, "cat");
                int dog = id(tok, "dog");
                int bird = id(tok, "bird");
                float[] table = spec.textEncoderWeights().tensor(ModelAddons.TOKEN_TABLE).toFloatArray();
                System.arraycopy(two, 0, table, cat * WIDTH, WIDTH);
                System.arraycopy(two, WIDTH, table, dog * WIDTH, WIDTH);
                System.arraycopy(one, 0, table, bird * WIDTH, WIDTH);
                WeightSource base = spec.textEncoderWeights();
                MapWeightSource replaced = new MapWeightSource("rows replaced");
                for (String n : base.names()) {
                    replaced.put(n, n.equals(ModelAddons.TOKEN_TABLE) ? Tensor.of(table, table.length / WIDTH, WIDTH) : base.tensor(n));
                }
                ClipTextTransformer reference = new ClipTextTransformer(Params.root(replaced, cpu), spec.textEncoder());
                int[] refIds = tok.encode("a cat dog house by bird").ids();
                float[] expected = reference.forward(new int[][] {refIds}).lastHiddenState().toFloatArray();
                float[] got = withEmbeddings.textEncoder().forward(new int[][] {ids}).lastHiddenState().toFloatArray();
                assertArrayEquals(expected, got, 1e-6f);
                float[] plain = reference.forward(new int[][] {tok.encode("a cat dog house by cow").ids()}).lastHiddenState().toFloatArray();
                assertFalse(Arrays.equals(expected, plain), "the vectors matter to the output");
            }
        }
    }

    private static GenerationRequest small(String prompt, String negative) {
        return GenerationRequest.textToImage(prompt).withNegativePrompt(negative).withSteps(2).withSize(64, 64)
                .withScheduler("ddim", false).withSeed(9);
    }

    @Test
    void anEmbeddingOfExistingRowsGivesTheImageOfThoseWordsInPromptAndNegativePrompt(@TempDir Path dir) {
        GenerationResult words;
        Path pets = dir.resolve("pets.safetensors");
        try (StableDiffusionPipeline p = StableDiffusionPipeline.load(model, null, null, cpu)) {
            words = p.generate(small("a cat dog on grass", "cat dog, blurry"), StepListener.NONE);
            int cat = id(p.tokenizer(), "cat");
            int dog = id(p.tokenizer(), "dog");
            float[] table = p.spec().textEncoderWeights().tensor(ModelAddons.TOKEN_TABLE).toFloatArray();
            float[] rows = new float[2 * WIDTH];
            System.arraycopy(table, cat * WIDTH, rows, 0, WIDTH);
            System.arraycopy(table, dog * WIDTH, rows, WIDTH, WIDTH);
            SafetensorsWriter.write(pets, Map.of("string_to_param.*", Tensor.of(rows, 2, WIDTH)));
        }
        try (StableDiffusionPipeline p = StableDiffusionPipeline.load(model, null, null, null, cpu, cpu, List.of(),
                List.of(new ModelAddons.Embedding(pets, null)))) {
            GenerationResult token = p.generate(small("a pets on grass", "pets, blurry"), StepListener.NONE);
            int v = p.spec().textEncoder().vocabSize() - 2;
            assertEquals(v, token.negative().ids()[1], "the negative prompt's first token is the embedding's first row");
            assertArrayEquals(words.latents(), token.latents());
            assertArrayEquals(words.images().get(0).data(), token.images().get(0).data());
            assertEquals("a pets on grass", p.tokenizer().decode(token.prompt().ids()));
        }
    }

    private static String failure(Path file, String token) {
        try (StableDiffusionModelSpec spec = ModelDiscovery.discover(model, null, null)) {
            WeightException e = assertThrows(WeightException.class,
                    () -> ModelAddons.apply(spec, List.of(), List.of(new ModelAddons.Embedding(file, token))).spec().close());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            assertTrue(e.getMessage().startsWith(file.toString()), "names the file: " + e.getMessage());
            return e.getMessage();
        }
    }

    @Test
    void embeddingsThatCannotBeUsedAreRefusedInOneLine(@TempDir Path dir) throws Exception {
        Path wide = dir.resolve("wide.safetensors");
        SafetensorsWriter.write(wide, Map.of("emb_params", Tensor.zeros(3, 768)));
        String m = failure(wide, null);
        assertTrue(m.contains("width 768") && m.contains("takes 32"), m);

        Path sdxl = dir.resolve("xl.safetensors");
        SafetensorsWriter.write(sdxl, Map.of("clip_l", Tensor.zeros(2, 768), "clip_g", Tensor.zeros(2, 1280)));
        assertTrue(failure(sdxl, null).contains("an SDXL embedding"));

        Path many = dir.resolve("many.safetensors");
        SafetensorsWriter.write(many, Map.of("a", Tensor.zeros(2, WIDTH), "b", Tensor.zeros(2, WIDTH)));
        assertTrue(failure(many, null).contains("not a textual-inversion embedding"));

        Path ok = dir.resolve("ok.safetensors");
        SafetensorsWriter.write(ok, Map.of("emb_params", Tensor.zeros(1, WIDTH)));
        assertTrue(failure(ok, "two words").contains("not one word"));
        assertTrue(failure(ok, "<|endoftext|>").contains("is taken"));

        Path pickle = Files.writeString(dir.resolve("negative.pt"), "not read");
        assertTrue(failure(pickle, null).contains("pickled"));
        Path bin = Files.writeString(dir.resolve("learned_embeds.bin"), "not read");
        assertTrue(failure(bin, null).contains("pickled"));

        try (StableDiffusionModelSpec spec = ModelDiscovery.discover(model, null, null)) {
            Path again = dir.resolve("OK.safetensors");
            SafetensorsWriter.write(again, Map.of("emb_params", Tensor.zeros(1, WIDTH)));
            EmbeddingException e = assertThrows(EmbeddingException.class, () -> ModelAddons.apply(spec, List.of(),
                    List.of(new ModelAddons.Embedding(ok, null), new ModelAddons.Embedding(again, null))));
            assertTrue(e.getMessage().contains("the token 'OK' is taken by " + ok), e.getMessage());
        }
    }
}
