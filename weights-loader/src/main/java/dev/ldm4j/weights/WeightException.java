// A problem with a checkpoint or its tensors, said in one line that names the file, key, shape or value.
package dev.ldm4j.weights;

public class WeightException extends RuntimeException {
    public WeightException(String message) {
        super(message);
    }

    public WeightException(String message, Throwable cause) {
        super(message, cause);
    }
}
