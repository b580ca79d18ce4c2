// Tokens added for textual-inversion embeddings: found in any case where they are not glued to a
// letter or digit, longest first, expanding to all their ids; the rest of the text tokenized as
// before; decode names the token once; duplicates and taken ids refused.
package dev.ldm4j.diffusion.tokenizer;

import dev.ldm4j.diffusion.prompt.A1111Prompt;
import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class AddedTokensTest {
    private static ClipTokenizer base;
    private static ClipTokenizer added;
    private static final int V = 49408;

    @BeforeAll
    static void load() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        base = ClipTokenizer.load(SharedFixtures.conformance().resolve("sd1-tiny/tokenizer"));
        added = base.withAddedTokens(List.of(new AddedToken("cat", new int[] {V}), new AddedToken("<cat-toy>", new int[] {V + 1, V + 2, V + 3}),
                new AddedToken("EasyNegative", new int[] {V + 4})));
    }

    private static int[] concat(int[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
    }

    @Test
    void tokensAreFoundAsWordsInAnyCaseAndTheRestIsTokenizedAsBefore() {
        assertArrayEquals(concat(base.tokenIds("a"), new int[] {V}, base.tokenIds(", on a catalog")), added.tokenIds("a CAT, on a catalog"));
        assertArrayEquals(concat(base.tokenIds("photo of a"), new int[] {V + 1, V + 2, V + 3}, base.tokenIds("toy")),
                added.tokenIds("photo of a<cat-toy>toy"), "a token that starts and ends with punctuation needs no space around it");
        assertArrayEquals(concat(new int[] {V + 4}, base.tokenIds("("), new int[] {V}, base.tokenIds(":1.2)")),
                added.tokenIds("easynegative (cat:1.2)"));
        assertArrayEquals(base.tokenIds("bobcat cats"), added.tokenIds("bobcat cats"), "glued to letters: not the token");
        assertEquals(6, added.tokenIds("cat cat <cat-toy> easynegative").length);
    }

    @Test
    void decodeNamesEachTokenOnceAndEncodeCountsItsVectors() {
        ClipEncoding e = added.encode("a <cat-toy> on a mat");
        assertEquals(7, e.tokenCount(), "a, three vectors, on, a, mat");
        assertEquals("a <cat-toy> on a mat", added.decode(e.ids()));
    }

    @Test
    void a1111ChunksKeepAnEmbeddingsVectorsTogether() {
        String text = "a ".repeat(74) + "<cat-toy> house";
        List<A1111Prompt.Chunk> chunks = A1111Prompt.chunks(A1111Prompt.parse(text), added);
        assertEquals(2, chunks.size());
        int[] first = chunks.get(0).ids();
        int[] second = chunks.get(1).ids();
        assertEquals(added.tokenIds("a")[0], first[74]);
        assertEquals(added.eosId(), first[75], "the three vectors do not fit after 74 tokens: the chunk ends there");
        assertArrayEquals(new int[] {added.bosId(), V + 1, V + 2, V + 3, added.tokenIds("house")[0], added.eosId()},
                java.util.Arrays.copyOf(second, 6));
        assertEquals(3, added.addedTokenLength(V + 1));
        assertEquals(0, added.addedTokenLength(V + 2));
        assertEquals(0, added.addedTokenLength(added.tokenIds("a")[0]));
    }

    @Test
    void duplicateTokensAndTakenIdsAreRefused() {
        assertThrows(TokenizerException.class, () -> added.withAddedTokens(List.of(new AddedToken("Cat", new int[] {V + 9}))));
        assertThrows(TokenizerException.class, () -> base.withAddedTokens(List.of(new AddedToken("x1", new int[] {100}))));
        assertThrows(TokenizerException.class, () -> base.withAddedTokens(List.of(new AddedToken("x1", new int[] {V}),
                new AddedToken("x2", new int[] {V}))));
        assertThrows(TokenizerException.class, () -> new AddedToken("two words", new int[] {V}));
    }
}
