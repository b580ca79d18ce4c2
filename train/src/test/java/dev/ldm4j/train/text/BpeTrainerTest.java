// A vocabulary learned from word counts: every training word becomes one token under CLIP's own tokenizer,
// other words still tokenize (into byte-level pieces), and the files are what ClipTokenizer reads.
package dev.ldm4j.train.text;

import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BpeTrainerTest {
    @Test
    void trainingWordsBecomeSingleTokensAndOthersStillTokenize(@TempDir Path dir) {
        Map<String, Integer> counts = Map.of("a", 50, "red", 20, "circle", 10, "orange", 5, "in", 30, "the", 40, "center", 8);
        BpeTrainer.Vocabulary v = BpeTrainer.train(counts);
        ClipTokenizer tok = v.tokenizer(dir);
        for (String w : counts.keySet()) {
            assertEquals(1, tok.tokenIds(w).length, "'" + w + "' is one token");
        }
        int[] sentence = tok.tokenIds("a red circle in the center");
        assertEquals(6, sentence.length);
        assertTrue(tok.tokenIds("purple").length > 1, "an unseen word falls back to pieces");
        int[] ids = tok.encode("an orange circle").ids();
        assertEquals(v.vocab().get(ClipTokenizer.BOS_TOKEN), ids[0]);
        assertEquals(v.vocab().size() - 1, ids[ids.length - 1], "padded with the end-of-text token, the last id");
        assertArrayEquals(tok.tokenIds("a red circle"), BpeTrainer.Vocabulary.read(dir).tokenizer(dir.resolve("again")).tokenIds("a red circle"));
    }

    @Test
    void theSameCountsGiveTheSameVocabulary() {
        Map<String, Integer> counts = Map.of("square", 3, "triangle", 3, "small", 3, "large", 3);
        assertEquals(BpeTrainer.train(counts), BpeTrainer.train(counts));
    }
}
