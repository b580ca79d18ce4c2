// A sampling run whose latents left float32's range (NaN or infinity) after a step: the guidance scale
// or a scheduler setting was too large. Stopping there beats decoding an all-black image.
package dev.ldm4j.diffusion.pipeline;

public final class NonFiniteLatentsException extends RuntimeException {
    private final int step;

    public NonFiniteLatentsException(int step, int steps, double guidanceScale) {
        super("step " + step + " of " + steps + " gave latents that are not finite (NaN or infinity): the guidance scale ("
                + guidanceScale + ") or a scheduler setting is too large for float32");
        this.step = step;
    }

    /** The step (1-based) after which the latents were first not finite. */
    public int step() {
        return step;
    }

    /** Throws when any element of latents is NaN or infinite. */
    static void check(float[] latents, int step, int steps, double guidanceScale) {
        for (float v : latents) {
            if (!Float.isFinite(v)) {
                throw new NonFiniteLatentsException(step, steps, guidanceScale);
            }
        }
    }
}
