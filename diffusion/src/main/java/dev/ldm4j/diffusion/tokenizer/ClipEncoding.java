// The result of encoding one prompt for the CLIP text encoder: exactly 77 token ids (BOS, the
// prompt's tokens, EOS, padding) and the part of the prompt that did not fit.
package dev.ldm4j.diffusion.tokenizer;

import java.util.List;

/**
 * @param ids          77 ids: BOS, at most 75 prompt tokens, EOS, then the pad id
 * @param tokenCount   how many prompt tokens there were before truncation (BOS and EOS not counted)
 * @param droppedText  the decoded text of the prompt tokens cut off by truncation ("" when none)
 */
public record ClipEncoding(int[] ids, int tokenCount, String droppedText) {
    public ClipEncoding {
        ids = ids.clone();
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    public boolean truncated() {
        return !droppedText.isEmpty();
    }

    /** How many prompt tokens truncation dropped (those past the 75 that fit between BOS and EOS). */
    public int droppedTokenCount() {
        return Math.max(0, tokenCount - (ClipTokenizer.CONTEXT_LENGTH - 2));
    }

    /** The words of the dropped text (the first may be the tail of a word that was cut). */
    public List<String> droppedWords() {
        String t = droppedText.strip();
        return t.isEmpty() ? List.of() : List.of(t.split("\\s+"));
    }
}
