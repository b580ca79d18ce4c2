// How a prompt's text becomes the text encoder's input: as diffusers reads it (the whole text, cut at
// 77 tokens) or as AUTOMATIC1111's web UI reads it (emphasis syntax, any length in chunks of 75 tokens).
package dev.ldm4j.diffusion.prompt;

import java.util.Locale;

public enum PromptStyle {
    /** diffusers' encode_prompt: the text as it is, BOS + at most 75 tokens + EOS, padded to 77. */
    DIFFUSERS,
    /** A1111: (x), [x], (x:w) emphasis, BREAK, chunks of 75 tokens concatenated (see A1111Prompt). */
    A1111;

    /** The name users type: "diffusers" or "a1111". */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The style of a label ("diffusers", "a1111"); null when there is none of that name. */
    public static PromptStyle byLabel(String label) {
        for (PromptStyle s : values()) {
            if (s.label().equals(label)) {
                return s;
            }
        }
        return null;
    }
}
