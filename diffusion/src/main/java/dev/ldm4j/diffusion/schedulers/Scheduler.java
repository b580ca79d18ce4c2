// The contract every noise scheduler implements: a discrete schedule of timesteps (and, for the
// k-diffusion family, noise levels sigma) plus one denoising update per entry of that schedule.
// Methods mirror diffusers' SchedulerMixin API, but steps are addressed by their index in
// timesteps() instead of by timestep value, so a pipeline never has to search the schedule.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

/**
 * A diffusion sampler. Typical loop (what diffusers' StableDiffusionPipeline does):
 * <pre>{@code
 * scheduler.setTimesteps(steps);
 * float[] x = noise.randn(shape);  x *= scheduler.initNoiseSigma();
 * for (int i = 0; i < scheduler.timesteps().length; i++) {
 *     float[] in  = scheduler.scaleModelInput(x, i);
 *     float[] eps = unet(in, scheduler.timesteps()[i]);
 *     x = scheduler.step(eps, i, x, shape, noise);
 * }
 * }</pre>
 * All arrays are dense row-major float32 samples of the given shape (e.g. latents [B, 4, H/8, W/8]).
 * Second-order schedulers (Heun, KDPM2) list each intermediate evaluation as its own entry of
 * timesteps(), exactly as diffusers does, so the loop above is the same for every scheduler.
 */
public interface Scheduler {

    /** The diffusers class name this scheduler reproduces, e.g. "EulerDiscreteScheduler". */
    String name();

    /** The resolved configuration (class defaults overlaid with the keys given). */
    SchedulerConfig config();

    /** Computes the schedule for this many denoising steps and clears all multistep state. */
    void setTimesteps(int numInferenceSteps);

    /**
     * diffusers' set_timesteps(timesteps=t): the model is evaluated at these train timesteps, in order, instead
     * of a schedule computed from a step count. Schedulers without it throw CustomScheduleException (see CustomSchedule).
     */
    default void setCustomTimesteps(double[] timesteps) {
        throw CustomSchedule.refused(this, CustomSchedule.Kind.TIMESTEPS);
    }

    /**
     * diffusers' set_timesteps(sigmas=s): the noise levels of the steps, one more than the steps (the last is
     * where the final step lands). Schedulers without it throw CustomScheduleException.
     */
    default void setCustomSigmas(double[] sigmas) {
        throw CustomSchedule.refused(this, CustomSchedule.Kind.SIGMAS);
    }

    /** The timesteps the model is evaluated at, in order (float values where diffusers has them). */
    double[] timesteps();

    /** The noise levels sigma (one more than the steps, ending in the final sigma); empty where the scheduler has none. */
    double[] sigmas();

    /**
     * The noise level sigma = sqrt((1 - alpha_bar) / alpha_bar) of the model evaluation at step stepIndex: the
     * train schedule's sigma at timesteps()[stepIndex], log-linear between integer timesteps (the inverse of
     * diffusers' _sigma_to_t). One measure of how noisy a step is, for every sampler alike.
     */
    double sigmaAt(int stepIndex);

    /** Standard deviation of the initial noise: the starting latent is randn * initNoiseSigma(). */
    double initNoiseSigma();

    /** The model input for step stepIndex (e.g. x / sqrt(sigma^2 + 1) for the k-diffusion family). */
    float[] scaleModelInput(float[] sample, int stepIndex);

    /**
     * One update: from the model output at timesteps()[stepIndex] and the current sample, the next
     * sample. Steps must be taken in order (multistep and second-order schedulers keep state); the
     * first call may start at any index (img2img). Draws noise from {@code noise} at the same
     * moments and in the same shape as diffusers; {@code noise} may be null for deterministic
     * schedulers.
     */
    float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise);

    /** Noises a clean sample to the noise level of step stepIndex (img2img's starting latent). */
    float[] addNoise(float[] original, float[] noise, int stepIndex);

    /** Model evaluations per step of the underlying solver (2 for Heun and KDPM2, else 1). */
    int order();

    /**
     * The index in timesteps() of the first model evaluation of denoising step {@code step} (from 0) of the schedule
     * set: where image-to-image that skips the first steps starts. step * order() for a scheduler that lists each
     * step's evaluations in turn; RestartScheduler adds its restart passes.
     */
    default int entryOfStep(int step) {
        return step * order();
    }
}
