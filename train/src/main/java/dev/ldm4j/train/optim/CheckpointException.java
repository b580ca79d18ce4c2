// A training checkpoint that cannot be written or read back: one line naming the file and, where
// there is one, the offending tensor or metadata key.
package dev.ldm4j.train.optim;

public final class CheckpointException extends RuntimeException {
    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
