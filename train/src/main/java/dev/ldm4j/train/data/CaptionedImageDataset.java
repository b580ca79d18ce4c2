// What a training loop reads: square images of one resolution with captions, by index.
package dev.ldm4j.train.data;

public interface CaptionedImageDataset {
    /** Side of every image, in pixels. */
    int resolution();

    /** Number of samples; Long.MAX_VALUE for a generator where every index >= 0 is a sample. */
    long size();

    /** Sample {@code index}, 0 <= index < size(); the same index always gives the same sample. */
    CaptionedImage get(long index);
}
