// A prompt outside the shapes-v1 caption grammar; the message quotes the prompt and the word where
// reading stopped.
package dev.ldm4j.train.eval;

public final class PromptParseException extends IllegalArgumentException {
    public PromptParseException(String message) {
        super(message);
    }
}
