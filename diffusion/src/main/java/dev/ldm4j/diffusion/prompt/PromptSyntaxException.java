// A prompt that its prompt style cannot read (e.g. an A1111 weight that is not a number).
package dev.ldm4j.diffusion.prompt;

public final class PromptSyntaxException extends IllegalArgumentException {
    public PromptSyntaxException(String message) {
        super(message);
    }
}
