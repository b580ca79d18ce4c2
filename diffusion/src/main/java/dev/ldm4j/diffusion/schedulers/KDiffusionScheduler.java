// The parts every k-diffusion scheduler here (Euler, Euler ancestral, Heun, LMS, KDPM2, KDPM2
// ancestral) shares: noise levels sigma instead of alpha_bar, so the starting noise has standard
// deviation sigma_max (SigmaSchedule.initNoiseSigma), the model sees x / sqrt(sigma^2 + 1), and
// add_noise is x0 + sigma noise. Each subclass keeps its own schedule and step.
package dev.ldm4j.diffusion.schedulers;

abstract class KDiffusionScheduler extends BaseScheduler {
    protected KDiffusionScheduler(SchedulerConfig config) {
        super(config);
    }

    @Override
    public double initNoiseSigma() {
        return SigmaSchedule.initNoiseSigma(config, sigmas);
    }

    /** x / sqrt(sigma_i^2 + 1); the two-stage KDPM2 samplers override it to use the midpoint sigma. */
    @Override
    public float[] scaleModelInput(float[] sample, int stepIndex) {
        checkStep(stepIndex, sample);
        return KDiffusion.scaleInput(sample, sigmas[stepIndex]);
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int stepIndex) {
        checkStep(stepIndex, original);
        return addNoiseSigma(original, noise, sigmas[stepIndex]);
    }
}
