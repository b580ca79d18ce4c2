// A token added to the CLIP vocabulary (a textual-inversion embedding): its text, matched in prompts
// as one word, and the ids it expands to, one per vector (ids past the base vocabulary).
package dev.ldm4j.diffusion.tokenizer;

import java.util.Arrays;

public record AddedToken(String text, int[] ids) {
    public AddedToken {
        if (text.isBlank() || text.codePoints().anyMatch(Character::isWhitespace)) {
            throw new TokenizerException("an added token must be one word without spaces, got '" + text + "'");
        }
        if (ids.length == 0) {
            throw new TokenizerException("the added token '" + text + "' has no ids");
        }
        ids = ids.clone();
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AddedToken t && t.text.equals(text) && Arrays.equals(t.ids, ids);
    }

    @Override
    public int hashCode() {
        return text.hashCode() * 31 + Arrays.hashCode(ids);
    }

    @Override
    public String toString() {
        return text + Arrays.toString(ids);
    }
}
