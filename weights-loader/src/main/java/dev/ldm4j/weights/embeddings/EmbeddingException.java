// A textual-inversion embedding that cannot be used, said in one line naming the file and what is
// wrong (its layout, its width against the text encoder's, its token).
package dev.ldm4j.weights.embeddings;

import dev.ldm4j.weights.WeightException;

public final class EmbeddingException extends WeightException {
    public EmbeddingException(String message) {
        super(message);
    }
}
