// What a pipeline call returns: the images, the final latents, how the prompt was encoded
// (including any words truncation dropped) and where the time went.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.tokenizer.ClipEncoding;

import java.util.List;

/**
 * @param images        batchSize images, [H, W, 3] in [0, 1]
 * @param latents       the final latents [B, 4, H/8, W/8] (scaled, before the 1/scaling_factor of decoding)
 * @param prompt        the prompt's token encoding (truncated() tells whether words were dropped)
 * @param negative      the negative prompt's token encoding, or null when guidance was off
 * @param timings       wall-clock times of the stages
 */
public record GenerationResult(List<RgbImage> images, float[] latents, ClipEncoding prompt, ClipEncoding negative, Timings timings) {
    public GenerationResult {
        images = List.copyOf(images);
    }

    /**
     * Stage times in nanoseconds.
     *
     * @param textEncodingNanos tokenizing and running the text encoder
     * @param imageEncodingNanos image-to-image: encoding the init image with the VAE (0 otherwise)
     * @param stepNanos         each denoising step (U-Net, guidance, scheduler)
     * @param decodingNanos     the VAE decoder and conversion to images
     */
    public record Timings(long textEncodingNanos, long imageEncodingNanos, long[] stepNanos, long decodingNanos) {
        public long totalStepNanos() {
            long s = 0;
            for (long n : stepNanos) {
                s += n;
            }
            return s;
        }

        public long totalNanos() {
            return textEncodingNanos + imageEncodingNanos + totalStepNanos() + decodingNanos;
        }
    }
}
