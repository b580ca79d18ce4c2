// Bad training data: the message is one line naming the file (and line) that is wrong and how.
package dev.ldm4j.train.data;

public final class DatasetException extends RuntimeException {
    public DatasetException(String message) {
        super(message);
    }
}
