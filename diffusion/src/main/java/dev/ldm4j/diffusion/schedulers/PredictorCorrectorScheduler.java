// Predictor-corrector sampling of the reverse variance-exploding SDE (Song et al. 2021, "Score-Based Generative
// Modeling through Stochastic Differential Equations", sec. 4.2, Algorithm 2 with the Langevin corrector of
// Algorithm 4 / Appendix G). At each noise level sigma_i the corrector takes corrector_steps Langevin MCMC steps
// towards p_{sigma_i}, each with a fresh score and a step size set by the signal-to-noise ratio r (snr):
//     g = s(x, sigma_i),  z ~ N(0, I),  eps = 2 (r ||z|| / ||g||)^2,  x <- x + eps g + sqrt(2 eps) z
// (norms per image, as the algorithm writes them for one sample; alpha_i = 1 for the VE SDE); then the predictor, the
// reverse-diffusion step of ReverseSdeScheduler, moves to sigma_{i+1}. The order is score_sde's pc_sampler's (corrector
// at the current level, then predictor). With snr = 0 the corrector leaves x unchanged and draws nothing, so the run is
// EulerMaruyamaScheduler's, with the corrector's model evaluations wasted. CLI name pc_langevin; scheduler options
// snr (default 0.16, Song et al.'s for the VE SDE) and corrector_steps (default 1).
//
// Each model evaluation is its own entry of timesteps(), as diffusers lists Heun's two: per level corrector_steps
// corrector entries, then the predictor's, all at the level's timestep (order() = corrector_steps + 1).
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class PredictorCorrectorScheduler extends ReverseSdeScheduler {
    public static Map<String, Object> defaults() {
        Map<String, Object> d = scheduleDefaults();
        d.put("snr", 0.16);
        d.put("corrector_steps", 1L);
        return d;
    }

    private final double snr;
    private final int correctorSteps;

    public PredictorCorrectorScheduler(Map<String, Object> config) {
        super(new SchedulerConfig("PredictorCorrectorScheduler", defaults(), config));
        snr = this.config.getDouble("snr");
        correctorSteps = this.config.getInt("corrector_steps");
        if (!(snr >= 0) || Double.isInfinite(snr)) {
            throw new IllegalArgumentException(name() + ": snr must be a finite number >= 0, got " + snr);
        }
        if (correctorSteps < 0 || correctorSteps > 100) {
            throw new IllegalArgumentException(name() + ": corrector_steps must be 0 to 100, got " + correctorSteps);
        }
    }

    @Override
    public void setTimesteps(int steps) {
        SigmaSchedule s = schedule(steps);
        int per = order();
        timesteps = new double[steps * per];
        sigmas = new double[steps * per + 1];
        for (int i = 0; i < timesteps.length; i++) {
            timesteps[i] = s.timesteps()[i / per];
            sigmas[i] = levels[i / per];
        }
    }

    @Override
    public int order() {
        return correctorSteps + 1;
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        int level = stepIndex / order();
        double sigma = levels[level];
        double[] g = score(modelOutput, sample, sigma);
        if (stepIndex % order() < correctorSteps) {
            return langevin(sample, g, shape, noise);
        }
        return reverseDiffusion(sample, g, sigma, levels[level + 1], shape, noise);
    }

    /** One Langevin corrector step (Song et al. 2021, Algorithm 4), each image with its own step size. */
    private float[] langevin(float[] x, double[] g, int[] shape, NoiseSource noise) {
        if (snr == 0) {
            return x;
        }
        float[] z = randn(noise, shape, x.length);
        int batch = shape[0];
        int n = x.length / batch;
        float[] out = new float[x.length];
        for (int b = 0; b < batch; b++) {
            double gg = 0;
            double zz = 0;
            for (int i = b * n; i < (b + 1) * n; i++) {
                gg += g[i] * g[i];
                zz += (double) z[i] * z[i];
            }
            double eps = gg > 0 ? 2 * snr * snr * zz / gg : 0;
            double amp = Math.sqrt(2 * eps);
            for (int i = b * n; i < (b + 1) * n; i++) {
                out[i] = (float) (x[i] + eps * g[i] + amp * z[i]);
            }
        }
        return out;
    }
}
