// A1111's prompt reading: the emphasis parser on a table of prompts with the (text, weight) pieces the
// web UI's parse_prompt_attention gives (its own docstring examples among them, weights compared exactly,
// as Python's float arithmetic gives them), and the chunking rule (75 tokens a chunk, BOS/EOS around each,
// EOS padding, BREAK, the comma backtrack of 20, per-token weights, SD 2.x's pad id) on CLIP's vocabulary.
package dev.ldm4j.diffusion.prompt;

import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class A1111PromptTest {
    private static A1111Prompt.Piece p(String text, double weight) {
        return new A1111Prompt.Piece(text, weight);
    }

    static Stream<Arguments> emphasisTable() {
        return Stream.of(
                Arguments.of("normal text", List.of(p("normal text", 1.0))),
                Arguments.of("an (important) word", List.of(p("an ", 1.0), p("important", 1.1), p(" word", 1.0))),
                Arguments.of("a (red:1.5) cat", List.of(p("a ", 1.0), p("red", 1.5), p(" cat", 1.0))),
                Arguments.of("((big))", List.of(p("big", 1.2100000000000002))),
                Arguments.of("[small]", List.of(p("small", 0.9090909090909091))),
                Arguments.of("[[tiny]]", List.of(p("tiny", 0.8264462809917354))),
                Arguments.of("(a (b:2) c)", List.of(p("a ", 1.1), p("b", 2.2), p(" c", 1.1))),
                Arguments.of("(x:0.5) (y: 1.25 )", List.of(p("x", 0.5), p(" ", 1.0), p("y", 1.25))),
                Arguments.of("\\(literal\\)", List.of(p("(literal)", 1.0))),
                Arguments.of("\\(literal\\]", List.of(p("(literal]", 1.0))),
                Arguments.of("\\[x\\] \\\\ y", List.of(p("[x] \\ y", 1.0))),
                Arguments.of("(unbalanced", List.of(p("unbalanced", 1.1))),
                Arguments.of("a (b", List.of(p("a ", 1.0), p("b", 1.1))),
                Arguments.of("a [b", List.of(p("a ", 1.0), p("b", 0.9090909090909091))),
                Arguments.of("closing) only]", List.of(p("closing) only]", 1.0))),
                Arguments.of("(x:1.5", List.of(p("x:1.5", 1.1))),
                Arguments.of("ratio 16:9", List.of(p("ratio 16:9", 1.0))),
                Arguments.of("(unnecessary)(parens)", List.of(p("unnecessaryparens", 1.1))),
                Arguments.of("[(mixed)]", List.of(p("mixed", 1.0))),
                Arguments.of("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", List.of(
                        p("a ", 1.0), p("house", 1.5730000000000004), p(" ", 1.1), p("on", 1.0), p(" a ", 1.1),
                        p("hill", 0.55), p(", sun, ", 1.1), p("sky", 1.4641000000000006), p(".", 1.1))),
                Arguments.of("a cat BREAK a dog", List.of(p("a cat", 1.0), p("BREAK", -1), p("a dog", 1.0))),
                Arguments.of("(a BREAK b)", List.of(p("a", 1.1), p("BREAK", -1.1), p("b", 1.1))),
                Arguments.of("BREAKFAST", List.of(p("BREAKFAST", 1.0))),
                Arguments.of("", List.of(p("", 1.0))),
                Arguments.of("()", List.of(p("", 1.0))));
    }

    @ParameterizedTest(name = "\"{0}\"")
    @MethodSource("emphasisTable")
    void emphasisGivesTheWebUisPieces(String prompt, List<A1111Prompt.Piece> expected) {
        assertEquals(expected, A1111Prompt.parse(prompt));
    }

    @Test
    void breakInsideBracketsIsNoLongerABreak() {
        // The web UI multiplies the BREAK marker's -1 too, so it then reads as text: same here.
        assertTrue(A1111Prompt.parse("a cat BREAK a dog").get(1).isBreak());
        assertTrue(!A1111Prompt.parse("(a BREAK b)").get(1).isBreak());
    }

    @Test
    void aWeightThatIsNotANumberIsRefusedByName() {
        PromptSyntaxException e = assertThrows(PromptSyntaxException.class, () -> A1111Prompt.parse("a (cat:1.2.3) b"));
        assertTrue(e.getMessage().contains("1.2.3"), e.getMessage());
    }

    // ------------------------------------------------------------------------------------------
    // Chunking

    private static ClipTokenizer clip() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        return ClipTokenizer.load(SharedFixtures.clip());
    }

    private static String words(String word, int n) {
        return String.join(" ", Collections.nCopies(n, word));
    }

    /** BOS, the tokens, EOS up to 77: what a chunk holding exactly these tokens must be. */
    private static int[] chunk(ClipTokenizer t, int[] tokens) {
        int[] ids = new int[77];
        Arrays.fill(ids, t.eosId());
        ids[0] = t.bosId();
        System.arraycopy(tokens, 0, ids, 1, tokens.length);
        return ids;
    }

    private static int[] repeat(int id, int n) {
        int[] a = new int[n];
        Arrays.fill(a, id);
        return a;
    }

    private static int[] concat(int[]... parts) {
        return Arrays.stream(parts).flatMapToInt(Arrays::stream).toArray();
    }

    @Test
    void aShortPromptIsOneChunkWithTheIdsDiffusersGives() {
        ClipTokenizer t = clip();
        String prompt = "a photo of an astronaut riding a horse on mars";
        List<A1111Prompt.Chunk> chunks = A1111Prompt.chunks(A1111Prompt.parse(prompt), t);
        assertEquals(1, chunks.size());
        assertArrayEquals(t.encode(prompt).ids(), chunks.getFirst().ids());
        assertTrue(chunks.getFirst().unweighted());
        assertArrayEquals(t.encode("").ids(), A1111Prompt.chunks(A1111Prompt.parse(""), t).getFirst().ids(), "empty prompt: BOS, EOS, padding");
    }

    @Test
    void aLongPromptFillsChunksOfSeventyFiveTokensEachWithBosAndEos() {
        ClipTokenizer t = clip();
        int cat = t.tokenIds("cat")[0];
        List<A1111Prompt.Chunk> chunks = A1111Prompt.chunks(A1111Prompt.parse(words("cat", 200)), t);
        assertEquals(3, chunks.size(), "200 tokens: 75 + 75 + 50");
        assertArrayEquals(chunk(t, repeat(cat, 75)), chunks.get(0).ids());
        assertArrayEquals(chunk(t, repeat(cat, 75)), chunks.get(1).ids());
        assertArrayEquals(chunk(t, repeat(cat, 50)), chunks.get(2).ids());
        for (A1111Prompt.Chunk c : chunks) {
            assertEquals(77, c.ids().length);
            assertEquals(t.bosId(), c.ids()[0]);
            assertEquals(t.eosId(), c.ids()[76]);
        }
        assertEquals(1, A1111Prompt.chunks(A1111Prompt.parse(words("cat", 75)), t).size(), "exactly 75 tokens fit one chunk");
        assertEquals(2, A1111Prompt.chunks(A1111Prompt.parse(words("cat", 76)), t).size());
    }

    @Test
    void aFullChunkMovesTheTextAfterACommaAmongItsLastTwentyTokensToTheNextChunk() {
        ClipTokenizer t = clip();
        int cat = t.tokenIds("cat")[0];
        int dog = t.tokenIds("dog")[0];
        int comma = t.tokenIds(",")[0];
        // 70 cats, a comma at position 70, 10 dogs: when the chunk is full the comma is 5 back.
        List<A1111Prompt.Chunk> near = A1111Prompt.chunks(A1111Prompt.parse(words("cat", 70) + ", " + words("dog", 10)), t);
        assertEquals(2, near.size());
        assertArrayEquals(chunk(t, concat(repeat(cat, 70), new int[] {comma})), near.get(0).ids());
        assertArrayEquals(chunk(t, repeat(dog, 10)), near.get(1).ids());
        // 50 cats, a comma, 40 dogs: the comma is 25 back, too far: the chunk is cut at 75 tokens.
        List<A1111Prompt.Chunk> far = A1111Prompt.chunks(A1111Prompt.parse(words("cat", 50) + ", " + words("dog", 40)), t);
        assertEquals(2, far.size());
        assertArrayEquals(chunk(t, concat(repeat(cat, 50), new int[] {comma}, repeat(dog, 24))), far.get(0).ids());
        assertArrayEquals(chunk(t, repeat(dog, 16)), far.get(1).ids());
    }

    @Test
    void breakStartsANewChunk() {
        ClipTokenizer t = clip();
        List<A1111Prompt.Chunk> chunks = A1111Prompt.chunks(A1111Prompt.parse("a red cat BREAK a blue dog"), t);
        assertEquals(2, chunks.size());
        assertArrayEquals(chunk(t, t.tokenIds("a red cat")), chunks.get(0).ids());
        assertArrayEquals(chunk(t, t.tokenIds("a blue dog")), chunks.get(1).ids());
    }

    @Test
    void eachTokenCarriesItsPiecesWeight() {
        ClipTokenizer t = clip();
        A1111Prompt.Chunk c = A1111Prompt.chunks(A1111Prompt.parse("a (red:1.5) [cat]"), t).getFirst();
        assertArrayEquals(chunk(t, t.tokenIds("a red cat")), c.ids());
        float[] w = new float[77];
        Arrays.fill(w, 1f);
        w[2] = 1.5f;
        w[3] = (float) (1 / 1.1);
        assertArrayEquals(w, c.weights());
        // A weighted piece split across chunks keeps its weight in both.
        List<A1111Prompt.Chunk> split = A1111Prompt.chunks(A1111Prompt.parse(words("cat", 70) + " (" + words("dog", 10) + ":1.3)"), t);
        assertEquals(2, split.size());
        assertEquals(1.3f, split.get(0).weights()[75]);
        assertEquals(1.3f, split.get(1).weights()[1]);
        assertEquals(1f, split.get(1).weights()[6], "padding has weight 1");
    }

    @Test
    void sd2PadsWithItsPadTokenAfterTheFirstEos() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        ClipTokenizer t = ClipTokenizer.load(SharedFixtures.conformance().resolve("sd2-tiny").resolve("tokenizer"));
        assertTrue(t.padId() != t.eosId());
        List<A1111Prompt.Chunk> chunks = A1111Prompt.chunks(A1111Prompt.parse(words("cat", 80)), t);
        assertEquals(2, chunks.size());
        assertArrayEquals(t.encode(words("cat", 75)).ids(), chunks.get(0).ids(), "a full chunk has no padding");
        assertArrayEquals(t.encode(words("cat", 5)).ids(), chunks.get(1).ids(), "BOS, 5 tokens, EOS, then the pad id as diffusers pads");
    }

    @Test
    void tokenCountIgnoresBreak() {
        ClipTokenizer t = clip();
        assertEquals(6, A1111Prompt.tokenCount(A1111Prompt.parse("a red cat BREAK a blue dog"), t));
        assertEquals(0, A1111Prompt.tokenCount(A1111Prompt.parse(""), t));
    }
}
