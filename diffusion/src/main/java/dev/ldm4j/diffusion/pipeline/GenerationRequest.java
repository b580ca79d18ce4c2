// What to generate: the settings of one diffusers StableDiffusionPipeline (or, with an init image,
// StableDiffusionImg2ImgPipeline; with an init image and a mask, StableDiffusionInpaintPipeline) call. Build one with textToImage(prompt) or imageToImage(...) and
// the with* methods; defaults are diffusers' (50 steps, guidance 7.5, the model's scheduler).
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.prompt.PromptStyle;

/**
 * @param prompt          the text to condition on
 * @param negativePrompt  the text of the unconditional branch of classifier-free guidance ("" = none)
 * @param steps           num_inference_steps
 * @param guidanceScale   classifier-free guidance weight; at most 1 skips the unconditional pass
 * @param width           image width in pixels (text-to-image); 0 = the model's default size
 * @param height          image height in pixels (text-to-image); 0 = the model's default size
 * @param batchSize       images per prompt (num_images_per_prompt), drawn as one latent batch
 * @param seed            the torch.Generator("cpu") seed when no NoiseSource is given
 * @param scheduler       a Schedulers name ("euler_a", "ddim", ...), or null for the model's own scheduler
 * @param karras          use Karras sigmas (schedulers that have them)
 * @param clipSkip        diffusers' clip_skip: 0 = last layer, 1 = penultimate layer ("clip skip 2" elsewhere)
 * @param initImage       image-to-image: the starting image (its size sets the output size), else null
 * @param strength        image-to-image: how much of the schedule to run, in (0, 1]
 * @param promptStyle     how the texts are read: diffusers' (cut at 77 tokens) or A1111's (emphasis, any length); null = diffusers
 * @param mask            inpainting: which pixels of initImage to repaint (its size), else null
 */
public record GenerationRequest(
        String prompt,
        String negativePrompt,
        int steps,
        double guidanceScale,
        int width,
        int height,
        int batchSize,
        long seed,
        String scheduler,
        boolean karras,
        int clipSkip,
        RgbImage initImage,
        double strength,
        PromptStyle promptStyle,
        InpaintMask mask) {

    public GenerationRequest {
        promptStyle = promptStyle == null ? PromptStyle.DIFFUSERS : promptStyle;
        if (prompt == null) {
            throw new IllegalArgumentException("prompt must not be null");
        }
        negativePrompt = negativePrompt == null ? "" : negativePrompt;
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        }
        if (!(guidanceScale >= 0) || Double.isInfinite(guidanceScale)) {
            throw new IllegalArgumentException("guidance scale must be a finite number >= 0, got " + guidanceScale);
        }
        if (width < 0 || height < 0) {
            throw new IllegalArgumentException("width and height must be positive, got " + width + "x" + height);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        }
        if (clipSkip < 0) {
            throw new IllegalArgumentException("clip skip must be 0 or more, got " + clipSkip);
        }
        if (initImage != null && !(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be in (0, 1], got " + strength);
        }
        if (mask != null && initImage == null) {
            throw new IllegalArgumentException("an inpainting mask needs the image it applies to");
        }
        if (mask != null && (mask.width() != initImage.width() || mask.height() != initImage.height())) {
            throw new IllegalArgumentException("the mask is " + mask.width() + "x" + mask.height() + " and the image "
                    + initImage.width() + "x" + initImage.height() + "; they must be the same size");
        }
    }

    /** A request without an inpainting mask. */
    public GenerationRequest(String prompt, String negativePrompt, int steps, double guidanceScale, int width, int height, int batchSize,
                             long seed, String scheduler, boolean karras, int clipSkip, RgbImage initImage, double strength,
                             PromptStyle promptStyle) {
        this(prompt, negativePrompt, steps, guidanceScale, width, height, batchSize, seed, scheduler, karras, clipSkip, initImage, strength,
                promptStyle, null);
    }

    /** A request whose texts are read as diffusers reads them. */
    public GenerationRequest(String prompt, String negativePrompt, int steps, double guidanceScale, int width, int height, int batchSize,
                             long seed, String scheduler, boolean karras, int clipSkip, RgbImage initImage, double strength) {
        this(prompt, negativePrompt, steps, guidanceScale, width, height, batchSize, seed, scheduler, karras, clipSkip, initImage, strength,
                PromptStyle.DIFFUSERS);
    }

    /** Text-to-image with diffusers' defaults: 50 steps, guidance 7.5, seed 0, the model's scheduler and size. */
    public static GenerationRequest textToImage(String prompt) {
        return new GenerationRequest(prompt, "", 50, 7.5, 0, 0, 1, 0, null, false, 0, null, 0.8);
    }

    /** Image-to-image from initImage with diffusers' default strength 0.8. */
    public static GenerationRequest imageToImage(String prompt, RgbImage initImage) {
        return new GenerationRequest(prompt, "", 50, 7.5, 0, 0, 1, 0, null, false, 0, initImage, 0.8);
    }

    /** Inpainting of initImage where mask is 1, with diffusers' default strength 1.0. */
    public static GenerationRequest inpainting(String prompt, RgbImage initImage, InpaintMask mask) {
        return new GenerationRequest(prompt, "", 50, 7.5, 0, 0, 1, 0, null, false, 0, initImage, 1.0, PromptStyle.DIFFUSERS, mask);
    }

    /** True with an init image (image-to-image, or inpainting when there is a mask too). */
    public boolean isImageToImage() {
        return initImage != null;
    }

    public boolean isInpainting() {
        return mask != null;
    }

    public GenerationRequest withPrompt(String p) {
        return new GenerationRequest(p, negativePrompt, steps, guidanceScale, width, height, batchSize, seed, scheduler, karras, clipSkip, initImage, strength, promptStyle, mask);
    }

    public GenerationRequest withNegativePrompt(String p) {
        return new GenerationRequest(prompt, p, steps, guidanceScale, width, height, batchSize, seed, scheduler, karras, clipSkip, initImage, strength, promptStyle, mask);
    }

    public GenerationRequest withSteps(int n) {
        return new GenerationRequest(prompt, negativePrompt, n, guidanceScale, width, height, batchSize, seed, scheduler, karras, clipSkip, initImage, strength, promptStyle, mask);
    }

    public GenerationRequest withGuidanceScale(double g) {
        return new GenerationRequest(prompt, negativePrompt, steps, g, width, height, batchSize, seed, scheduler, karras, clipSkip, initImage, strength, promptStyle, mask);
    }

    public GenerationRequest withSize(int w, int h) {
        return new GenerationRequest(prompt, negativePrompt, steps, guidanceScale, w, h, batchSize, seed, scheduler, karras, clipSkip, initImage, strength, promptStyle, mask);
    }

    public GenerationRequest withBatchSize(int b) {
        return new GenerationRequest(prompt, negativePrompt, steps, guidanceScale, width, height, b, seed, scheduler, karras, clipSkip, initImage, strength, promptStyle, mask);
    }

    public GenerationRequest withSeed(long s) {
        return new GenerationRequest(prompt, negativePrompt, steps, guidanceScale, width, height, batchSize, s, scheduler, karras, clipSkip, initImage, strength, promptStyle, mask);
    }

    public GenerationRequest withScheduler(String name, boolean useKarras) {
        return new GenerationRequest(prompt, negativePrompt, steps, guidanceScale, width, height, batchSize, seed, name, useKarras, clipSkip, initImage, strength, promptStyle, mask);
    }

    public GenerationRequest withClipSkip(int k) {
        return new GenerationRequest(prompt, negativePrompt, steps, guidanceScale, width, height, batchSize, seed, scheduler, karras, k, initImage, strength, promptStyle, mask);
    }

    public GenerationRequest withStrength(double s) {
        return new GenerationRequest(prompt, negativePrompt, steps, guidanceScale, width, height, batchSize, seed, scheduler, karras, clipSkip, initImage, s, promptStyle, mask);
    }

    public GenerationRequest withPromptStyle(PromptStyle style) {
        return new GenerationRequest(prompt, negativePrompt, steps, guidanceScale, width, height, batchSize, seed, scheduler, karras, clipSkip, initImage, strength, style, mask);
    }
}
