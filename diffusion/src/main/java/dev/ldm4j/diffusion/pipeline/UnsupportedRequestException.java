// A request the loaded model cannot run as asked, named in one line: for an LCM-distilled U-Net (one with
// time_cond_proj_dim) a negative prompt, which diffusers' LatentConsistencyModelPipeline does not take, or
// image-to-image, not implemented for such U-Nets yet, or guidance rescale / a guidance interval (it has no
// classifier-free guidance); Karras sigmas without a scheduler name; an inpainting U-Net (9 input channels)
// without an image and a mask. Carries what
// was refused so a caller can name its flag.
package dev.ldm4j.diffusion.pipeline;

public final class UnsupportedRequestException extends IllegalArgumentException {
    /** The part of the request refused. */
    public enum Part { NEGATIVE_PROMPT, IMAGE_TO_IMAGE, KARRAS, GUIDANCE, INPAINTING_INPUTS }

    private final Part part;

    public UnsupportedRequestException(Part part, String message) {
        super(message);
        this.part = part;
    }

    public Part part() {
        return part;
    }
}
