// One training example: an RGB image as [3, H, W] floats in [-1, 1] (pixel / 127.5 - 1, what SD's VAE
// encoder takes) and its caption.
package dev.ldm4j.train.data;

import dev.ldm4j.tensor.Tensor;

public record CaptionedImage(float[] chw, int width, int height, String caption) {
    public CaptionedImage {
        if (width <= 0 || height <= 0 || chw == null || chw.length != 3L * width * height) {
            throw new IllegalArgumentException("a [3, " + height + ", " + width + "] image needs " + 3L * width * height + " floats");
        }
        if (caption == null) {
            throw new IllegalArgumentException("a captioned image needs a caption");
        }
    }

    /** The image as a host tensor [3, H, W] over the same array (not copied). */
    public Tensor toTensor() {
        return Tensor.of(chw, 3, height, width);
    }
}
