// The mask of an inpainting run, prepared as diffusers' StableDiffusionInpaintPipeline prepares its
// mask_image: converted to grayscale as PIL's convert("L") does, scaled to [0, 1] and binarized
// (VaeImageProcessor with do_binarize: below 0.5 keeps, 0.5 and above repaints), then taken to the
// latent size with nearest-neighbour sampling (torch.nn.functional.interpolate's default mode) for the
// U-Net's mask channel and the 4-channel blend. White repaints, black keeps.
package dev.ldm4j.diffusion.pipeline;

/**
 * @param width  pixels
 * @param height pixels
 * @param values row-major [H, W], each 0 (keep) or 1 (repaint)
 */
public record InpaintMask(int width, int height, float[] values) {
    public InpaintMask {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("mask size must be positive, got " + width + "x" + height);
        }
        if (values.length != (long) width * height) {
            throw new IllegalArgumentException("a " + width + "x" + height + " mask needs " + (long) width * height + " values, got " + values.length);
        }
        for (float v : values) {
            if (v != 0f && v != 1f) {
                throw new IllegalArgumentException("mask values must be 0 or 1 (use InpaintMask.binarize), got " + v);
            }
        }
    }

    /** Gray levels in [0, 1], row-major [H, W], binarized as VaeImageProcessor.binarize: v < 0.5 -> 0, else 1. */
    public static InpaintMask binarize(int width, int height, float[] gray) {
        float[] v = new float[gray.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = gray[i] < 0.5f ? 0f : 1f;
        }
        return new InpaintMask(width, height, v);
    }

    /**
     * An RGB image (8-bit levels / 255, as the image readers give them) as a mask: PIL's convert("L"),
     * L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 on the 8-bit levels (ITU-R 601-2 luma in 16-bit fixed
     * point), then / 255 and binarized.
     */
    public static InpaintMask fromRgb(RgbImage image) {
        int n = image.width() * image.height();
        float[] gray = new float[n];
        float[] rgb = image.data();
        for (int i = 0; i < n; i++) {
            int r = level(rgb[3 * i]);
            int g = level(rgb[3 * i + 1]);
            int b = level(rgb[3 * i + 2]);
            gray[i] = ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16) / 255f;
        }
        return binarize(image.width(), image.height(), gray);
    }

    private static int level(float v) {
        return (int) Math.rint(Math.min(Math.max(v, 0f), 1f) * 255f);
    }

    /**
     * The mask at latent size [h, w] (the U-Net's mask channel): interpolate(mask, size=(h, w)) in mode
     * "nearest", which reads source row floor(y * H / h) and column floor(x * W / w).
     */
    public float[] latent(int h, int w) {
        float[] out = new float[h * w];
        float sy = (float) height / h;
        float sx = (float) width / w;
        for (int y = 0; y < h; y++) {
            int srcY = Math.min((int) Math.floor(y * sy), height - 1);
            for (int x = 0; x < w; x++) {
                int srcX = Math.min((int) Math.floor(x * sx), width - 1);
                out[y * w + x] = values[srcY * width + srcX];
            }
        }
        return out;
    }

    /** image * (mask < 0.5), on [3, H, W] samples in [-1, 1]: the repainted region becomes 0 (mid-gray). */
    public float[] maskImage(float[] chw) {
        int plane = width * height;
        if (chw.length != 3 * plane) {
            throw new IllegalArgumentException("image of " + chw.length + " samples for a " + width + "x" + height + " mask");
        }
        float[] out = new float[chw.length];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < plane; i++) {
                out[c * plane + i] = values[i] < 0.5f ? chw[c * plane + i] : 0f;
            }
        }
        return out;
    }
}
