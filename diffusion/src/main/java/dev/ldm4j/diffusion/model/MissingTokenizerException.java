// A model that came without a tokenizer (a single-file checkpoint with no diffusers folder beside it to take
// one from), so prompts cannot be encoded. Says which model; a caller names the way to give one.
package dev.ldm4j.diffusion.model;

import java.nio.file.Path;

public final class MissingTokenizerException extends ModelException {
    private final Path model;

    public MissingTokenizerException(Path model) {
        super(model + ": no tokenizer found (none beside the checkpoint, and none was given)");
        this.model = model;
    }

    public Path model() {
        return model;
    }
}
