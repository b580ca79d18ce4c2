// Checks the CLIP tokenizer against ids from the reference tokenizer (transformers), loaded from
// each of the three vocabulary layouts, and its handling of padding, truncation and bad files.
package dev.ldm4j.diffusion.tokenizer;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.Json;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ClipTokenizerTest {
    private static ClipTokenizer fromVocabAndMerges;
    private static ClipTokenizer fromTokenizerJson;
    private static ClipTokenizer fromOpenAi;
    private static List<Map<String, Object>> golden;

    @BeforeAll
    @SuppressWarnings("unchecked")
    static void load() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        Path clip = SharedFixtures.clip();
        fromVocabAndMerges = ClipTokenizer.load(SharedFixtures.conformance().resolve("sd1-tiny/tokenizer"));
        fromTokenizerJson = ClipTokenizer.load(SharedFixtures.conformance().resolve("sd2-tiny/tokenizer/tokenizer.json"));
        fromOpenAi = ClipTokenizer.load(clip.resolve("bpe_simple_vocab_16e6.txt.gz"));
        golden = (List<Map<String, Object>>) Json.parse(clip.resolve("tokenizer_golden.json"));
    }

    private static int[] ints(Object list) {
        return ((List<?>) list).stream().mapToInt(o -> ((Long) o).intValue()).toArray();
    }

    @Test
    void everyGoldenPromptGivesTheReferenceIdsFromAllThreeVocabularyLayouts() {
        assertEquals(12, golden.size());
        for (Map<String, Object> entry : golden) {
            String prompt = (String) entry.get("prompt");
            int[] expected = ints(entry.get("ids"));
            assertArrayEquals(expected, fromVocabAndMerges.tokenize(prompt), "vocab.json+merges.txt: " + prompt);
            assertArrayEquals(expected, fromTokenizerJson.tokenize(prompt), "tokenizer.json: " + prompt);
            assertArrayEquals(expected, fromOpenAi.tokenize(prompt), "bpe_simple_vocab_16e6.txt.gz: " + prompt);
        }
    }

    @Test
    void allLayoutsBuildTheSameVocabulary() {
        assertEquals(49408, fromVocabAndMerges.vocabSize());
        assertEquals(49408, fromTokenizerJson.vocabSize());
        assertEquals(49408, fromOpenAi.vocabSize());
        assertEquals(49406, fromOpenAi.bosId());
        assertEquals(49407, fromOpenAi.eosId());
    }

    @Test
    void padTokenComesFromTheTokenizerConfig() {
        assertEquals(49407, fromVocabAndMerges.padId(), "SD 1.x pads with <|endoftext|>");
        assertEquals(0, fromTokenizerJson.padId(), "SD 2.x pads with '!' (id 0)");
        assertEquals(49407, fromOpenAi.padId(), "no config beside the .gz: pad with EOS");
    }

    @Test
    void encodeGivesSeventySevenIdsWithBosEosAndPadding() {
        ClipEncoding e = fromTokenizerJson.encode("a photo of a cat");
        int[] ids = e.ids();
        assertEquals(77, ids.length);
        assertArrayEquals(new int[] {49406, 320, 1125, 539, 320, 2368, 49407}, java.util.Arrays.copyOf(ids, 7));
        for (int i = 7; i < 77; i++) {
            assertEquals(0, ids[i], "pad at " + i);
        }
        assertFalse(e.truncated());
        assertEquals(5, e.tokenCount());
    }

    @Test
    void longPromptIsTruncatedToSeventyFiveTokensAndReportsTheDroppedWords() {
        String prompt = "word ".repeat(70) + "alpha beta gamma delta epsilon zeta eta theta";
        ClipEncoding e = fromVocabAndMerges.encode(prompt);
        int[] ids = e.ids();
        assertEquals(77, ids.length);
        assertEquals(49406, ids[0]);
        assertEquals(49407, ids[76]);
        int[] all = fromVocabAndMerges.tokenIds(prompt);
        assertTrue(all.length > 75);
        assertArrayEquals(java.util.Arrays.copyOf(all, 75), java.util.Arrays.copyOfRange(ids, 1, 76));
        assertTrue(e.truncated());
        assertEquals(fromVocabAndMerges.decode(java.util.Arrays.copyOfRange(all, 75, all.length)), e.droppedText());
        assertTrue(e.droppedWords().contains("theta"), "dropped: " + e.droppedWords());
        assertFalse(e.droppedWords().contains("alpha"), "dropped: " + e.droppedWords());
    }

    @Test
    void goldenLongPromptMatchesTheReferenceAfterTruncation() {
        Map<String, Object> longest = golden.stream().max((a, b) -> ((List<?>) a.get("ids")).size() - ((List<?>) b.get("ids")).size()).orElseThrow();
        int[] full = ints(longest.get("ids"));
        assertTrue(full.length > 77);
        int[] ids = fromOpenAi.encode((String) longest.get("prompt")).ids();
        assertArrayEquals(java.util.Arrays.copyOf(full, 76), java.util.Arrays.copyOf(ids, 76));
        assertEquals(49407, ids[76]);
    }

    @Test
    void decodeInvertsTokenizeUpToNormalization() {
        String text = "Hello, World! café 🐱 12345";
        assertEquals("hello , world ! café 🐱 1 2 3 4 5", fromOpenAi.decode(fromOpenAi.tokenize(text)));
    }

    @Test
    void emptyFolderIsAOneLineErrorNamingIt(@TempDir Path dir) {
        TokenizerException e = assertThrows(TokenizerException.class, () -> ClipTokenizer.load(dir));
        assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void malformedMergesLineNamesTheFileAndLine(@TempDir Path dir) throws IOException {
        Files.copy(SharedFixtures.clip().resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\ni n\nthis line has three\n");
        TokenizerException e = assertThrows(TokenizerException.class, () -> ClipTokenizer.load(dir));
        assertTrue(e.getMessage().contains("merges.txt") && e.getMessage().contains("line 3"), e.getMessage());
    }

    @Test
    void tokenizerJsonWithoutModelIsRejected(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("tokenizer.json");
        Files.writeString(f, "{\"version\": \"1.0\"}");
        TokenizerException e = assertThrows(TokenizerException.class, () -> ClipTokenizer.load(f));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
    }

    @Test
    void unknownPadTokenIsRejected(@TempDir Path dir) throws IOException {
        Files.copy(SharedFixtures.clip().resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.copy(SharedFixtures.clip().resolve("merges.txt"), dir.resolve("merges.txt"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"pad_token\": \"<pad-that-does-not-exist>\"}");
        TokenizerException e = assertThrows(TokenizerException.class, () -> ClipTokenizer.load(dir));
        assertTrue(e.getMessage().contains("<pad-that-does-not-exist>"), e.getMessage());
    }

    @Test
    void truncatedGzipIsAOneLineError(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("bpe_simple_vocab_16e6.txt.gz");
        Files.write(f, new byte[] {0x1f, (byte) 0x8b, 8, 0});
        TokenizerException e = assertThrows(TokenizerException.class, () -> ClipTokenizer.load(f));
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
    }
}
