// The tokenizer's 77-id encodings against the ids the reference pipeline fed each tiny model's
// text encoder (text.ids in text_golden.safetensors): SD 1.x pads with <|endoftext|>, SD 2.x with '!'.
package dev.ldm4j.diffusion.tokenizer;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TextGoldenIdsTest {
    @ParameterizedTest
    @ValueSource(strings = {"sd1-tiny", "sd2-tiny"})
    void encodeGivesTheReferenceIdsForEachModel(String model) {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        Path dir = SharedFixtures.conformance().resolve(model);
        Map<String, Object> meta = Json.parseObject(dir.resolve("text_golden.json"));
        List<?> prompts = (List<?>) meta.get("prompts");
        ClipTokenizer tokenizer = ClipTokenizer.load(dir.resolve("tokenizer"));
        assertEquals(((Long) meta.get("pad_id")).intValue(), tokenizer.padId());
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("text_golden.safetensors"))) {
            float[] ids = f.tensor("text.ids").toFloatArray();
            assertEquals(prompts.size() * 77, ids.length);
            for (int p = 0; p < prompts.size(); p++) {
                int[] expected = new int[77];
                for (int i = 0; i < 77; i++) {
                    expected[i] = Math.round(ids[p * 77 + i]);
                }
                assertArrayEquals(expected, tokenizer.encode((String) prompts.get(p)).ids(), model + " prompt " + p + ": " + Arrays.toString(expected));
            }
        }
    }
}
