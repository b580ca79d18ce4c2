// A tokenizer file that cannot be used: the message names the file and what is wrong, in one line.
package dev.ldm4j.diffusion.tokenizer;

public final class TokenizerException extends IllegalArgumentException {
    public TokenizerException(String message) {
        super(message);
    }
}
