// Called after every denoising step (for the CLI's progress line, or a test recording latents).
package dev.ldm4j.diffusion.pipeline;

@FunctionalInterface
public interface StepListener {
    /**
     * @param step      1-based index of the step just taken
     * @param total     how many steps this run takes
     * @param timestep  the timestep the U-Net was evaluated at
     * @param latents   the latents after the step, [B, 4, h, w] row-major (do not modify)
     * @param nanos     how long the step took
     */
    void onStep(int step, int total, double timestep, float[] latents, long nanos);

    StepListener NONE = (step, total, timestep, latents, nanos) -> {
    };
}
