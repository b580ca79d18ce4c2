// A LoRA file that cannot be applied, said in one line naming the file, the key and what is wrong
// (a damaged pair, a shape that does not fit the model's weight, a format not read).
package dev.ldm4j.weights.lora;

import dev.ldm4j.weights.WeightException;

public final class LoraException extends WeightException {
    public LoraException(String message) {
        super(message);
    }
}
