// An 8-bit RGB image, row-major [H, W, 3], and its conversions: to the float CHW layout in [-1, 1]
// that SD's VAE takes (pixel / 127.5 - 1), back from it, and to and from the pipeline's RgbImage.
package dev.ldm4j.train.data;

import dev.ldm4j.diffusion.pipeline.RgbImage;

public record Rgb8Image(int width, int height, byte[] rgb) {
    public Rgb8Image {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
        if (rgb == null || rgb.length != (long) width * height * 3) {
            throw new IllegalArgumentException("a " + width + "x" + height + " RGB image needs " + (long) width * height * 3 + " bytes, got " + (rgb == null ? "none" : rgb.length));
        }
    }

    /** Channel c (0 red, 1 green, 2 blue) at (x, y), 0..255. */
    public int get(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xff;
    }

    /** [3, H, W] floats, pixel / 127.5 - 1, in [-1, 1]. */
    public float[] toChw() {
        int plane = width * height;
        float[] chw = new float[3 * plane];
        for (int c = 0; c < 3; c++) {
            for (int i = 0, at = c * plane; i < plane; i++) {
                chw[at + i] = TO_FLOAT[rgb[i * 3 + c] & 0xff];
            }
        }
        return chw;
    }

    /** TO_FLOAT[v] = v / 127.5f - 1f, the float toChw gives each byte value. */
    private static final float[] TO_FLOAT = new float[256];

    static {
        for (int v = 0; v < 256; v++) {
            TO_FLOAT[v] = v / 127.5f - 1f;
        }
    }

    /**
     * The inverse of toChw for any floats: round((v + 1) * 127.5) clamped to 0..255, half to even
     * (so a decoded image compares with PSNR as torchvision's (x / 2 + 0.5).clamp(0, 1) * 255 does).
     */
    public static Rgb8Image fromChw(float[] chw, int width, int height) {
        int plane = width * height;
        if (chw.length != 3L * plane) {
            throw new IllegalArgumentException("a [3, " + height + ", " + width + "] image needs " + 3L * plane + " floats, got " + chw.length);
        }
        byte[] rgb = new byte[3 * plane];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                double v = ((double) chw[c * plane + i] + 1.0) * 127.5;
                rgb[i * 3 + c] = (byte) (int) Math.rint(Math.min(Math.max(v, 0.0), 255.0));
            }
        }
        return new Rgb8Image(width, height, rgb);
    }

    /** The pipeline's output image, as diffusers converts to PIL (RgbImage.toRgb8). */
    public static Rgb8Image of(RgbImage image) {
        return new Rgb8Image(image.width(), image.height(), image.toRgb8());
    }

    /** Samples in [0, 1] (v / 255), the layout the pipeline and the CLI's PNG writer use. */
    public RgbImage toRgbImage() {
        float[] data = new float[rgb.length];
        for (int i = 0; i < rgb.length; i++) {
            data[i] = (rgb[i] & 0xff) / 255f;
        }
        return new RgbImage(width, height, data);
    }
}
