// Switches of the sampling loop beyond a diffusers pipeline call's usual arguments (GenerationRequest): guidance
// rescale (Lin et al. 2023, as diffusers' guidance_rescale), guidance in a sigma interval (Kynkäänniemi et al.
// 2024), a hand-given schedule (diffusers' set_timesteps(timesteps=/sigmas=), Align Your Steps) and conditioning
// blended from more prompts (PromptBlend). The default changes nothing.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.schedulers.CustomSchedule;

/**
 * @param guidanceRescale  phi of rescale_noise_cfg, in [0, 1]; 0 = none (diffusers' default)
 * @param guidanceInterval the sigmas at which to guide, or null for every step
 * @param schedule         the timesteps or sigmas to sample at, or null for the scheduler's own from the step count
 * @param promptBlend      how the conditioning is made from more prompts than the request's, or null for none
 */
public record SamplingOptions(double guidanceRescale, GuidanceInterval guidanceInterval, CustomSchedule schedule, PromptBlend promptBlend) {
    public static final SamplingOptions DEFAULT = new SamplingOptions(0, null, null, null);

    public SamplingOptions {
        if (!(guidanceRescale >= 0 && guidanceRescale <= 1)) {
            throw new IllegalArgumentException("guidance rescale must be in [0, 1], got " + guidanceRescale);
        }
    }

    public SamplingOptions withGuidanceRescale(double phi) {
        return new SamplingOptions(phi, guidanceInterval, schedule, promptBlend);
    }

    public SamplingOptions withGuidanceInterval(GuidanceInterval interval) {
        return new SamplingOptions(guidanceRescale, interval, schedule, promptBlend);
    }

    public SamplingOptions withSchedule(CustomSchedule s) {
        return new SamplingOptions(guidanceRescale, guidanceInterval, s, promptBlend);
    }

    public SamplingOptions withPromptBlend(PromptBlend blend) {
        return new SamplingOptions(guidanceRescale, guidanceInterval, schedule, blend);
    }

    /** Whether a guided run applies guidance at a step of noise level sigma. */
    boolean guidesAt(double sigma) {
        return guidanceInterval == null || guidanceInterval.contains(sigma);
    }
}
