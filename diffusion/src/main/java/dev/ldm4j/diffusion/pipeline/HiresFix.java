// The hires fix (AUTOMATIC1111's "Hires. fix"): generate at the request's size, upscale the result, and denoise it
// again at the new size as image-to-image with the same prompt, guidance and sampler (StableDiffusionPipeline
// .generateHires). The second pass starts where image-to-image at strength S starts (diffusers' get_timesteps: it runs
// int(steps * S) of a schedule of `steps`), from the upscaled latents noised to that step's level with the run's
// generator. The upscale is one of A1111's latent upscalers (interpolation of the latents, Interpolate), or in pixels:
// the first pass decoded, the image resized bicubically and encoded again (one posterior draw per image, as
// image-to-image encodes its init image).
package dev.ldm4j.diffusion.pipeline;

/**
 * @param scale    how much larger the second pass is, in [1, 8]; each side becomes side * scale, down to a multiple of 8
 * @param strength the second pass's denoising strength, in (0, 1]
 * @param steps    the second pass's schedule length, or 0 for the request's
 * @param upscale  how the first pass's result is brought to the new size
 */
public record HiresFix(double scale, double strength, int steps, Upscale upscale) {
    public static final double MAX_SCALE = 8;

    /** How the first pass's result is upscaled; label is the command line's name, a1111 the web UI's "Hires upscaler". */
    public enum Upscale {
        LATENT("latent", "Latent"),
        LATENT_BICUBIC("latent-bicubic", "Latent (bicubic)"),
        LATENT_NEAREST("latent-nearest", "Latent (nearest)"),
        PIXEL("pixel", "Bicubic (pixels)");

        private final String label;
        private final String a1111;

        Upscale(String label, String a1111) {
            this.label = label;
            this.a1111 = a1111;
        }

        public String label() {
            return label;
        }

        public String a1111() {
            return a1111;
        }

        /** The latents [planes, h, w] resized to [planes, outH, outW]: bilinear (A1111's "Latent"), bicubic or nearest. */
        float[] resize(float[] latents, int planes, int h, int w, int outH, int outW) {
            return switch (this) {
                case LATENT -> Interpolate.bilinear(latents, planes, h, w, outH, outW);
                case LATENT_BICUBIC -> Interpolate.bicubic(latents, planes, h, w, outH, outW);
                case LATENT_NEAREST -> Interpolate.nearest(latents, planes, h, w, outH, outW);
                case PIXEL -> throw new IllegalStateException("the pixel upscale resizes the decoded image, not the latents");
            };
        }
    }

    public HiresFix {
        if (!(scale >= 1 && scale <= MAX_SCALE)) {
            throw new IllegalArgumentException("the hires scale must be from 1 to " + (int) MAX_SCALE + ", got " + scale);
        }
        if (!(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException("the hires strength must be in (0, 1], got " + strength);
        }
        if (steps < 0) {
            throw new IllegalArgumentException("the hires steps must be 0 (the request's) or more, got " + steps);
        }
        if (upscale == null) {
            throw new IllegalArgumentException("the hires upscale must be given");
        }
    }

    /** {width, height} of the second pass for a first pass of w x h: each side times scale, down to a multiple of factor. */
    public int[] size(int w, int h, int factor) {
        return new int[] {side(w, factor), side(h, factor)};
    }

    private int side(int s, int factor) {
        int scaled = (int) Math.floor(s * scale / factor) * factor;
        return Math.max(scaled, s);
    }

    /** An image resized bicubically (Interpolate.bicubic on each channel), clamped to [0, 1]: the pixel upscale. */
    public static RgbImage upscaleImage(RgbImage image, int width, int height) {
        int w = image.width();
        int h = image.height();
        float[] planes = new float[3 * h * w];                                                   // [3, H, W]
        for (int i = 0; i < h * w; i++) {
            for (int c = 0; c < 3; c++) {
                planes[c * h * w + i] = image.data()[i * 3 + c];
            }
        }
        float[] up = Interpolate.bicubic(planes, 3, h, w, height, width);                         // [3, H', W']
        float[] hwc = new float[height * width * 3];
        for (int i = 0; i < height * width; i++) {
            for (int c = 0; c < 3; c++) {
                hwc[i * 3 + c] = Math.min(Math.max(up[c * height * width + i], 0f), 1f);
            }
        }
        return new RgbImage(width, height, hwc);
    }
}
