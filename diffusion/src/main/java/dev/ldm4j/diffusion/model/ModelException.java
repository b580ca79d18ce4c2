// A model path, folder or checkpoint that cannot be used, said in one line with what to do.
package dev.ldm4j.diffusion.model;

import dev.ldm4j.weights.WeightException;

public class ModelException extends WeightException {
    public ModelException(String message) {
        super(message);
    }
}
