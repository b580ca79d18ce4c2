// A model path, folder or checkpoint that cannot be used, said in one line with what to do.
package dev.ldm4j.diffusion.model;

import dev.ldm4j.weights.WeightException;

public class ModelException extends WeightException {
    /** What the user can give to fix it, for a front end to name in its own terms (the CLI's flags). */
    public enum Fix {
        NONE,
        /** A diffusers folder whose configs describe a single-file checkpoint. */
        CONFIG_FOLDER,
        /** Giving no config folder (a diffusers model folder carries its own). */
        NO_CONFIG_FOLDER,
        /** Applying the file as a LoRA onto a base model, rather than loading it as the model. */
        LORA_FLAG
    }

    private final Fix fix;

    public ModelException(String message) {
        this(message, Fix.NONE);
    }

    public ModelException(String message, Fix fix) {
        super(message);
        this.fix = fix;
    }

    public Fix fix() {
        return fix;
    }
}
