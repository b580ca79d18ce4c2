// A bare vocabulary (no tokenizer config beside it) takes the pad token its caller names: SD 2.x
// single files given CLIP's vocabulary must pad with "!" as their reference tokenizer does.
package dev.ldm4j.diffusion.tokenizer;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@SuppressWarnings("unchecked")
class DefaultPadTokenTest {
    @Test
    void bareVocabularyPadsWithTheGivenTokenAndMatchesTheSd2Reference() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        ClipTokenizer sd2 = ClipTokenizer.load(SharedFixtures.clip(), "!");
        ClipTokenizer sd1 = ClipTokenizer.load(SharedFixtures.clip());
        assertEquals(0, sd2.padId());
        assertEquals(49407, sd1.padId());
        List<Object> prompts = (List<Object>) ((java.util.Map<?, ?>) dev.ldm4j.weights.Json.parse(
                SharedFixtures.conformance().resolve("sd2-tiny/text_golden.json"))).get("prompts");
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.conformance().resolve("sd2-tiny/text_golden.safetensors"))) {
            float[] ids = f.tensor("text.ids").toFloatArray();
            for (int p = 0; p < prompts.size(); p++) {
                int[] want = new int[77];
                for (int i = 0; i < 77; i++) {
                    want[i] = (int) ids[p * 77 + i];
                }
                assertArrayEquals(want, sd2.encode((String) prompts.get(p)).ids(), "prompt " + p + ": " + Arrays.toString(want));
            }
        }
    }

    @Test
    void anSd2SingleFileGivenABareVocabularyPadsWithExclamationMark() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        var c = SharedFixtures.conformance();
        try (var backend = dev.ldm4j.tensor.Backends.create("cpu");
             var sd2 = dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline.load(c.resolve("sd2-tiny.safetensors"),
                     c.resolve("sd2-tiny"), SharedFixtures.clip(), null, backend);
             var sd1 = dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline.load(c.resolve("sd1-tiny.safetensors"),
                     c.resolve("sd1-tiny"), SharedFixtures.clip(), null, backend)) {
            assertEquals(0, sd2.tokenizer().padId());
            assertEquals(49407, sd1.tokenizer().padId());
        }
    }
}
