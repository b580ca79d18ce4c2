// The two prompt styles on the tiny SD 1.x text encoder: A1111's emphasis arithmetic (each position
// times its weight, then the chunk's mean restored) against the plain encoder output, long prompts
// encoded chunk by chunk and concatenated, the shorter text padded with the empty prompt's chunk, clip
// skip on both texts; the diffusers style unchanged (an unweighted short prompt gives its context bit for
// bit); and whole tiny runs with a long prompt. Tolerance 1e-6 relative where the text encoder runs on a
// batch of another composition (the same rows, other neighbours).
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.clip.ClipTextTransformer;
import dev.ldm4j.diffusion.model.ModelDiscovery;
import dev.ldm4j.diffusion.model.StableDiffusionModelSpec;
import dev.ldm4j.diffusion.prompt.A1111Prompt;
import dev.ldm4j.diffusion.prompt.PromptStyle;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.nn.LayerNorm;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Collections;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class PromptEncoderTest {
    private static final double TOLERANCE = 1e-6;
    private static Backend cpu;
    private static StableDiffusionModelSpec spec;
    private static ClipTokenizer tokenizer;
    private static ClipTextTransformer clip;
    private static LayerNorm finalLayerNorm;
    private static PromptEncoder encoder;
    private static int width;

    @BeforeAll
    static void load() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        cpu = Backends.create("cpu");
        spec = ModelDiscovery.discover(SharedFixtures.conformance().resolve("sd1-tiny"), null, null);
        Params root = Params.root(spec.textEncoderWeights(), cpu);
        clip = new ClipTextTransformer(root, spec.textEncoder());
        width = spec.textEncoder().hiddenSize();
        finalLayerNorm = new LayerNorm(root.child("text_model").child("final_layer_norm"), width, (float) spec.textEncoder().layerNormEps());
        tokenizer = ClipTokenizer.load(spec.tokenizer());
        encoder = new PromptEncoder(tokenizer, clip, finalLayerNorm, cpu);
    }

    @AfterAll
    static void close() {
        if (spec != null) {
            spec.close();
            cpu.close();
        }
    }

    private static String words(String word, int n) {
        return String.join(" ", Collections.nCopies(n, word));
    }

    private static float[] host(Tensor t) {
        return cpu.toHost(cpu.contiguous(t)).data();
    }

    /** The last hidden state of one chunk encoded alone: [77 * D]. */
    private static float[] alone(int[] ids) {
        return host(clip.forward(new int[][] {ids}).lastHiddenState());
    }

    private static float[] part(float[] context, int row, int chunk, int chunks) {
        int size = 77 * width;
        int from = (row * chunks + chunk) * size;
        return Arrays.copyOfRange(context, from, from + size);
    }

    private static void assertClose(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        double diff = 0;
        double largest = 0;
        for (int i = 0; i < want.length; i++) {
            diff = Math.max(diff, Math.abs((double) got[i] - want[i]));
            largest = Math.max(largest, Math.abs(want[i]));
        }
        assertTrue(diff <= TOLERANCE * largest, what + ": differs by " + diff + " (largest value " + largest + ")");
    }

    private static double mean(float[] x) {
        double s = 0;
        for (float v : x) {
            s += v;
        }
        return s / x.length;
    }

    @Test
    void weightsScaleEachPositionAndTheChunksMeanIsRestored() {
        String prompt = "a (red:1.5) [cat] on a mat";
        A1111Prompt.Chunk chunk = A1111Prompt.chunks(A1111Prompt.parse(prompt), tokenizer).getFirst();
        float[] z = alone(chunk.ids());
        float[] w = chunk.weights();
        // The web UI's EmphasisOriginal, in double: z * w per position, then * mean(z) / mean(z * w).
        double[] weighted = new double[z.length];
        double sumBefore = 0;
        double sumAfter = 0;
        for (int i = 0; i < z.length; i++) {
            weighted[i] = (double) z[i] * w[i / width];
            sumBefore += z[i];
            sumAfter += weighted[i];
        }
        float[] want = new float[z.length];
        for (int i = 0; i < z.length; i++) {
            want[i] = (float) (weighted[i] * (sumBefore / sumAfter));
        }
        float[] got = host(encoder.encode(prompt, "", 1, false, 0, PromptStyle.A1111).context());
        assertClose(want, got, "weighted context");
        assertEquals(mean(z), mean(got), 1e-6 * mean(abs(z)), "the chunk's mean is restored");
        assertEquals(1.5f, w[2], "'red'");
        assertEquals((float) (1 / 1.1), w[3], "'cat'");
    }

    private static float[] abs(float[] x) {
        float[] a = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            a[i] = Math.abs(x[i]);
        }
        return a;
    }

    @Test
    void anUnweightedShortPromptGivesTheDiffusersContextBitForBit() {
        float[] a1111 = host(encoder.encode("a red cat on a mat", "blurry", 2, true, 0, PromptStyle.A1111).context());
        float[] diffusers = host(encoder.encode("a red cat on a mat", "blurry", 2, true, 0, PromptStyle.DIFFUSERS).context());
        assertArrayEquals(diffusers, a1111);
    }

    @Test
    void aLongPromptIsEncodedChunkByChunkAndConcatenated() {
        String prompt = words("cat", 60) + " " + words("dog", 60);
        var chunks = A1111Prompt.chunks(A1111Prompt.parse(prompt), tokenizer);
        assertEquals(2, chunks.size());
        PromptEncoder.Embeddings e = encoder.encode(prompt, "", 1, false, 0, PromptStyle.A1111);
        assertArrayEquals(new int[] {1, 154, width}, e.context().shape());
        assertEquals(120, e.prompt().tokenCount());
        float[] context = host(e.context());
        for (int j = 0; j < 2; j++) {
            assertClose(alone(chunks.get(j).ids()), part(context, 0, j, 2), "chunk " + j);
        }
    }

    @Test
    void theShorterTextIsPaddedWithTheEmptyPromptsChunk() {
        String longText = words("cat", 100);
        var chunks = A1111Prompt.chunks(A1111Prompt.parse(longText), tokenizer);
        float[] empty = alone(tokenizer.encode("").ids());
        float[] blurry = alone(tokenizer.encode("blurry").ids());

        // A long prompt, a short negative, two images: [uncond, uncond, cond, cond], each [154, D].
        Tensor c = encoder.encode(longText, "blurry", 2, true, 0, PromptStyle.A1111).context();
        assertArrayEquals(new int[] {4, 154, width}, c.shape());
        float[] context = host(c);
        for (int row = 0; row < 2; row++) {
            assertClose(blurry, part(context, row, 0, 2), "negative, image " + row);
            assertClose(empty, part(context, row, 1, 2), "negative padded with the empty prompt, image " + row);
            assertClose(alone(chunks.get(0).ids()), part(context, 2 + row, 0, 2), "prompt chunk 0, image " + row);
            assertClose(alone(chunks.get(1).ids()), part(context, 2 + row, 1, 2), "prompt chunk 1, image " + row);
        }

        // A long negative pads the prompt instead.
        float[] reversed = host(encoder.encode("blurry", longText, 1, true, 0, PromptStyle.A1111).context());
        assertClose(alone(chunks.get(1).ids()), part(reversed, 0, 1, 2), "negative chunk 1");
        assertClose(blurry, part(reversed, 1, 0, 2), "prompt");
        assertClose(empty, part(reversed, 1, 1, 2), "prompt padded with the empty prompt");

        // Without guidance there is no negative and nothing to pad.
        assertArrayEquals(new int[] {1, 77, width}, encoder.encode("blurry", longText, 1, false, 0, PromptStyle.A1111).context().shape());
    }

    @Test
    void clipSkipAppliesToBothTextsInTheA1111StyleAndToThePromptOnlyInDiffusers() {
        int layers = spec.textEncoder().numHiddenLayers();
        int[] neg = tokenizer.encode("blurry").ids();
        int[] pos = tokenizer.encode("a red cat").ids();
        ClipTextTransformer.Output out = clip.forward(new int[][] {neg, pos});
        float[] skipped = host(finalLayerNorm.forward(out.hiddenStates().get(layers - 1)));     // [2, 77, D]
        float[] last = host(out.lastHiddenState());
        int size = 77 * width;

        float[] a1111 = host(encoder.encode("a red cat", "blurry", 1, true, 1, PromptStyle.A1111).context());
        assertClose(Arrays.copyOfRange(skipped, 0, size), part(a1111, 0, 0, 1), "A1111: negative from the penultimate layer");
        assertClose(Arrays.copyOfRange(skipped, size, 2 * size), part(a1111, 1, 0, 1), "A1111: prompt from the penultimate layer");

        float[] diffusers = host(encoder.encode("a red cat", "blurry", 1, true, 1, PromptStyle.DIFFUSERS).context());
        assertClose(Arrays.copyOfRange(last, 0, size), part(diffusers, 0, 0, 1), "diffusers: negative from the last layer");
        assertClose(Arrays.copyOfRange(skipped, size, 2 * size), part(diffusers, 1, 0, 1), "diffusers: prompt from the penultimate layer");
    }

    @Test
    void theDiffusersStyleCutsAtSeventySevenAndCountsWhatItDropped() {
        PromptEncoder.Embeddings e = encoder.encode(words("cat", 100), "", 1, true, 0, PromptStyle.DIFFUSERS);
        assertArrayEquals(new int[] {2, 77, width}, e.context().shape());
        assertEquals(100, e.prompt().tokenCount());
        assertEquals(25, e.prompt().droppedTokenCount());
        assertEquals(0, e.negative().droppedTokenCount());
    }

    @Test
    void aWholeRunTakesALongWeightedPromptAndTheA1111StyleOfAPlainPromptChangesNothing() {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(SharedFixtures.conformance().resolve("sd1-tiny"), null, null, cpu)) {
            GenerationRequest plain = GenerationRequest.textToImage("a red apple on a table").withNegativePrompt("blurry")
                    .withSteps(2).withSize(64, 64).withScheduler("euler", false).withSeed(3);
            GenerationResult d = pipe.generate(plain, StepListener.NONE);
            GenerationResult a = pipe.generate(plain.withPromptStyle(PromptStyle.A1111), StepListener.NONE);
            assertArrayEquals(d.latents(), a.latents(), "an unweighted prompt of under 75 tokens: the diffusers image");

            GenerationRequest longer = plain.withPromptStyle(PromptStyle.A1111)
                    .withPrompt(words("a (red:1.3) apple,", 40) + " [blurry background]");
            GenerationResult l = pipe.generate(longer, StepListener.NONE);
            assertEquals(3, A1111Prompt.chunks(A1111Prompt.parse(longer.prompt()), tokenizer).size());
            for (float v : l.latents()) {
                assertTrue(Float.isFinite(v));
            }
            assertTrue(!Arrays.equals(d.latents(), l.latents()));
        }
    }
}
