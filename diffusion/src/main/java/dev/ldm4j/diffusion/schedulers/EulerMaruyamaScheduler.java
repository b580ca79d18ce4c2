// Euler-Maruyama on the reverse variance-exploding SDE (Song et al. 2021): one predictor step per model evaluation,
// written in terms of the score (ReverseSdeScheduler has the SDE and the step). CLI name sde_euler.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class EulerMaruyamaScheduler extends ReverseSdeScheduler {
    public static Map<String, Object> defaults() {
        return scheduleDefaults();
    }

    public EulerMaruyamaScheduler(Map<String, Object> config) {
        super(new SchedulerConfig("EulerMaruyamaScheduler", defaults(), config));
    }

    @Override
    public void setTimesteps(int steps) {
        SigmaSchedule s = schedule(steps);
        timesteps = s.timesteps();
        sigmas = levels.clone();
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        double sigma = sigmas[stepIndex];
        return reverseDiffusion(sample, score(modelOutput, sample, sigma), sigma, sigmas[stepIndex + 1], shape, noise);
    }
}
