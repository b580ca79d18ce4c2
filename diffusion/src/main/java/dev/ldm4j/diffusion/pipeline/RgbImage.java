// An RGB image as the pipeline hands it in and out: float samples in [0, 1], row-major [H, W, 3],
// the layout of diffusers' output_type="np" (and of an init image for image-to-image).
package dev.ldm4j.diffusion.pipeline;

public record RgbImage(int width, int height, float[] data) {
    public RgbImage {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        }
        if (data.length != (long) width * height * 3) {
            throw new IllegalArgumentException("a " + width + "x" + height + " RGB image needs " + (long) width * height * 3 + " samples, got " + data.length);
        }
    }

    /** The sample of channel c (0 red, 1 green, 2 blue) at (x, y). */
    public float get(int x, int y, int c) {
        return data[(y * width + x) * 3 + c];
    }

    /**
     * One int per pixel, 0xRRGGBB of toRgb8()'s bytes, row-major: the layout of java.awt.image.BufferedImage.TYPE_INT_RGB,
     * so {@code img.setRGB(0, 0, width, height, toPackedRgb(), 0, width)} fills one (and ImageIO writes it as a PNG).
     */
    public int[] toPackedRgb() {
        byte[] rgb = toRgb8();
        int[] out = new int[width * height];
        for (int i = 0; i < out.length; i++) {
            out[i] = (rgb[3 * i] & 0xff) << 16 | (rgb[3 * i + 1] & 0xff) << 8 | (rgb[3 * i + 2] & 0xff);
        }
        return out;
    }

    /**
     * 8-bit RGB, [H, W, 3] row-major, as diffusers converts to PIL: round(clamp(x, 0, 1) * 255),
     * rounding half to even as numpy does.
     */
    public byte[] toRgb8() {
        byte[] out = new byte[data.length];
        for (int i = 0; i < data.length; i++) {
            out[i] = (byte) (int) Math.rint(Math.min(Math.max(data[i], 0f), 1f) * 255f);
        }
        return out;
    }
}
