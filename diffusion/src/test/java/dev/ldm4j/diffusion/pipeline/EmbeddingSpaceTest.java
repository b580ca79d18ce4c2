// The text-embedding space on the tiny SD 1.x model: the conditioning is the text encoder's last hidden state as
// the reference gives it, a prompt's cosine with itself is 1, a shared prefix has identical conditioning (CLIP's
// attention is causal), and the nearest vocabulary token to a token's own input embedding is that token.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.SafetensorsFile;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class EmbeddingSpaceTest {
    private static Backend backend;
    private static StableDiffusionPipeline pipe;
    private static EmbeddingSpace space;

    @BeforeAll
    static void load() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        backend = Backends.create("cpu");
        pipe = StableDiffusionPipeline.load(SharedFixtures.conformance().resolve("sd1-tiny"), null, null, backend);
        space = EmbeddingSpace.of(pipe, backend);
    }

    @AfterAll
    static void close() {
        if (pipe != null) {
            pipe.close();
        }
    }

    @Test
    void theConditioningIsTheReferenceLastHiddenState() {
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.conformance().resolve("sd1-tiny/text_golden.safetensors"))) {
            float[] want = f.tensor("text.last_hidden_state").toFloatArray();     // [3, 77, D]
            String prompt = (String) ((List<?>) dev.ldm4j.weights.Json.parseObject(
                    SharedFixtures.conformance().resolve("sd1-tiny/text_golden.json")).get("prompts")).get(0);
            EmbeddingSpace.Prompt p = space.encode(prompt);
            int d = p.pooled().length;
            double err = 0;
            double ref = 0;
            for (int pos = 0; pos < 77; pos++) {
                for (int i = 0; i < d; i++) {
                    double w = want[pos * d + i];
                    err += (p.hidden()[pos][i] - w) * (p.hidden()[pos][i] - w);
                    ref += w * w;
                }
            }
            assertTrue(Math.sqrt(err / ref) < 1e-5, "relative error " + Math.sqrt(err / ref));
            assertEquals(1.0, EmbeddingSpace.cosine(p.pooled(), p.hidden()[p.length() - 1]), 1e-12, "pooled: the end-of-text position");
        }
    }

    @Test
    void cosineOfAPromptWithItselfIsOneAndASharedPrefixIsIdentical() {
        EmbeddingSpace.Prompt cat = space.encode("a photo of a cat");
        EmbeddingSpace.Prompt again = space.encode("a photo of a cat");
        EmbeddingSpace.Prompt dog = space.encode("a photo of a dog");
        assertEquals(1.0, EmbeddingSpace.cosine(cat.pooled(), again.pooled()), 1e-12);
        for (int pos = 0; pos < 5; pos++) {                        // BOS a photo of a: causal attention sees only these
            assertEquals(1.0, EmbeddingSpace.cosine(cat.hidden()[pos], dog.hidden()[pos]), 1e-6, "position " + pos);
        }
        assertTrue(EmbeddingSpace.cosine(cat.hidden()[5], dog.hidden()[5]) < 0.999, "cat and dog differ at position 5");
    }

    @Test
    void theNearestTokenToATokensOwnEmbeddingIsThatToken() {
        EmbeddingSpace.Prompt p = space.encode("a red apple on a wooden table");
        for (int pos = 0; pos < p.length(); pos++) {
            int id = p.ids()[pos];
            List<EmbeddingSpace.Neighbour> near = space.nearest(space.tokenEmbedding(id), 3);
            assertEquals(3, near.size());
            assertEquals(id, near.get(0).id(), "position " + pos);
            assertEquals(1.0, near.get(0).cosine(), 1e-9);
            assertTrue(near.get(1).cosine() <= near.get(0).cosine() && near.get(2).cosine() <= near.get(1).cosine());
        }
    }
}
