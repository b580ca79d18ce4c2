// ./ldm4j embed on the tiny SD 1.x model: the JSON report's tokens, norms, nearest tokens and similarities, the text
// report, and a bad value refused in one line.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.Json;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class EmbedCommandTest {
    private static String tiny() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        return SharedFixtures.conformance().resolve("sd1-tiny").toString();
    }

    @Test
    @SuppressWarnings("unchecked")
    void theJsonReportHasEachPositionAndEachPair() {
        CliTest.Result r = run("embed", "--model", tiny(), "--prompt", "a photo of a cat", "--prompt", "a photo of a dog", "--json", "--nearest", "2");
        assertEquals(0, r.code(), r.err());
        Map<String, Object> report = (Map<String, Object>) Json.parse(r.out());
        List<Object> prompts = (List<Object>) report.get("prompts");
        assertEquals(2, prompts.size());
        List<Object> tokens = (List<Object>) ((Map<String, Object>) prompts.get(0)).get("tokens");
        assertEquals(7, tokens.size(), "BOS, five tokens, EOS");
        Map<String, Object> first = (Map<String, Object>) tokens.get(0);
        assertEquals("<|startoftext|>", first.get("token"));
        for (Object o : tokens) {
            Map<String, Object> t = (Map<String, Object>) o;
            List<Object> near = (List<Object>) t.get("nearest");
            assertEquals(2, near.size());
            Map<String, Object> self = (Map<String, Object>) near.get(0);
            assertEquals(t.get("id"), self.get("id"), "a token's own embedding is nearest itself");
            assertEquals(1.0, ((Number) self.get("cosine")).doubleValue(), 1e-9);
            assertTrue(((Number) t.get("input_norm")).doubleValue() > 0 && ((Number) t.get("conditioning_norm")).doubleValue() > 0);
        }
        List<Object> pairs = (List<Object>) report.get("similarities");
        assertEquals(1, pairs.size());
        List<Object> perPosition = (List<Object>) ((Map<String, Object>) pairs.get(0)).get("per_position_cosine");
        assertEquals(7, perPosition.size());
        assertEquals(1.0, ((Number) perPosition.get(4)).doubleValue(), 1e-6, "the shared prefix: causal attention");
        assertTrue(((Number) perPosition.get(5)).doubleValue() < 0.999);
    }

    @Test
    void theTextReportAndABadValue() {
        CliTest.Result r = run("embed", "--model", tiny(), "--prompt", "a cat", "--prompt", "a cat");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("prompt 0: \"a cat\" (pooled norm "), r.out());
        assertTrue(r.out().contains("prompts 0 and 1: pooled cosine 1.0000; conditioning cosine per position: 0:1.000"), r.out());
        assertOneLineError(run("embed", "--model", tiny(), "--prompt", "a cat", "--nearest", "-1"), "--nearest must be 0 to 100, got -1");
    }
}
