// Called after every denoising step (for the CLI's progress line, a test recording latents, or --trace's pictures).
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

    /** Whether onPrediction should be called (computing the prediction costs a pass over the latents). */
    default boolean wantsPredictions() {
        return false;
    }

    /**
     * Before the scheduler's update of step: the clean latents x0 [B, 4, h, w] that the (guided) U-Net output predicts
     * at the step's noise level sigma (Scheduler.sigmaAt).
     */
    default void onPrediction(int step, int total, double sigma, float[] predictedX0) {
    }

    StepListener NONE = (step, total, timestep, latents, nanos) -> {
    };
}
