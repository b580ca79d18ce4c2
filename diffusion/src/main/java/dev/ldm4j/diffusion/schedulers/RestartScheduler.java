// Restart sampling (Xu, Deng, Cheng, Tian, Liu & Jaakkola 2023, "Restart Sampling for Improving Generative
// Processes", arXiv 2306.14878, Algorithm 1) around an ODE sampler, Euler or Heun: the base schedule runs down to the
// noise level t_min; then K times the sample is taken back up to t_max by the forward process,
//     x_{t_max} = x_{t_min} + sqrt(t_max^2 - t_min^2) * z,    z ~ N(0, I), drawn from the run's generator,
// and the ODE is solved again from t_max down to t_min in N steps (Karras et al. 2022's rho = 7 grid, as the paper's
// EDM runs); then the base schedule continues. The added noise contracts the error accumulated above t_min, and the
// ODE steps add little of their own (the paper, Sec. 4). t_min is moved to the base schedule's nearest noise level,
// as the paper's code does, so the restart passes end where the base run resumes. Settings.SD is the paper's Stable
// Diffusion setting (for guidance 5 and 8): [t_min, t_max] = [0.1, 2], K = 2, N_Restart = 10 grid points (9 steps).
// Each restart pass is run by one more scheduler of the base's class and config, given the pass's noise levels; the
// restart entries are listed in timesteps() between the base's, so the pipeline's loop runs them as any others.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Arrays;

public final class RestartScheduler implements Scheduler {

    /**
     * @param tMin       the noise level the base run restarts from (moved to the base schedule's nearest level), > 0
     * @param tMax       the noise level each restart goes back up to, > tMin
     * @param iterations K, the number of restarts (0: the base sampler unchanged)
     * @param steps      N, the ODE steps of each restart pass from t_max to t_min, >= 1
     */
    public record Settings(double tMin, double tMax, int iterations, int steps) {
        /** The paper's Stable Diffusion setting: [0.1, 2], K = 2, 9 steps (N_Restart = 10 grid points). */
        public static final Settings SD = new Settings(0.1, 2.0, 2, 9);

        public Settings {
            if (!(tMin > 0) || !(tMax > tMin) || Double.isInfinite(tMax)) {
                throw new IllegalArgumentException("a restart interval needs 0 < t_min < t_max (finite), got [" + tMin + ", " + tMax + "]");
            }
            if (iterations < 0 || steps < 1) {
                throw new IllegalArgumentException("restart needs K >= 0 restarts of N >= 1 steps, got K = " + iterations + ", N = " + steps);
            }
        }
    }

    private final Scheduler base;
    private final Scheduler pass;
    private final Settings settings;
    /** The base entry after which the sample is at t_min (restart follows it), or -1 for none. */
    private int landing = -1;
    /** The entries of one restart pass. */
    private int passLength;
    /** t_min as moved onto the base schedule. */
    private double tMin;

    /**
     * Restart around base, an ODE sampler (EulerDiscreteScheduler without churn, or HeunDiscreteScheduler); its
     * schedule is set through this scheduler (setTimesteps, setCustomSigmas, setCustomTimesteps).
     */
    public RestartScheduler(Scheduler base, Settings settings) {
        boolean ode = base instanceof EulerDiscreteScheduler e && !e.churns() || base instanceof HeunDiscreteScheduler;
        if (!ode) {
            throw new IllegalArgumentException("restart sampling re-solves the probability-flow ODE: it runs with euler (without s_churn)"
                    + " or heun, not " + base.name());
        }
        this.base = base;
        this.pass = Schedulers.fromClassName(base.name(), base.config().asMap());
        this.settings = settings;
    }

    public Settings settings() {
        return settings;
    }

    /** t_min as the run uses it: the base schedule's noise level nearest the one asked for (valid once a schedule is set). */
    public double restartFrom() {
        return tMin;
    }

    @Override
    public String name() {
        return "Restart(" + base.name() + ")";
    }

    @Override
    public SchedulerConfig config() {
        return base.config();
    }

    @Override
    public void setTimesteps(int numInferenceSteps) {
        base.setTimesteps(numInferenceSteps);
        layout();
    }

    @Override
    public void setCustomTimesteps(double[] timesteps) {
        base.setCustomTimesteps(timesteps);
        layout();
    }

    @Override
    public void setCustomSigmas(double[] sigmas) {
        base.setCustomSigmas(sigmas);
        layout();
    }

    /** Places the restart passes: after the base entry that lands on the level nearest t_min, K passes from t_max to it. */
    private void layout() {
        landing = -1;
        passLength = 0;
        if (settings.iterations() == 0) {
            return;
        }
        double[] levels = levels(base);                                                       // s_0 > ... > s_n
        int n = levels.length - 1;
        if (n < 2) {
            throw new IllegalArgumentException("restart sampling needs a schedule of at least 2 steps to restart inside, got " + n);
        }
        int j = 1;
        for (int k = 2; k < n; k++) {
            if (Math.abs(levels[k] - settings.tMin()) < Math.abs(levels[j] - settings.tMin())) {
                j = k;
            }
        }
        tMin = levels[j];
        if (!(settings.tMax() > tMin)) {
            throw new IllegalArgumentException("restart: t_max " + settings.tMax() + " must lie above t_min, which this schedule's nearest"
                    + " noise level makes " + (float) tMin);
        }
        double[] grid = NoiseSchedule.karrasSigmas(tMin, settings.tMax(), settings.steps() + 1);  // t_max ... t_min
        grid[0] = settings.tMax();
        grid[grid.length - 1] = tMin;
        setLevels(pass, grid);
        passLength = pass.timesteps().length;
        landing = base instanceof HeunDiscreteScheduler ? 2 * j - 1 : j - 1;                    // the entry that completes the step to s_j
    }

    /** The base schedule's noise levels, one more than its steps (Heun lists each inner level twice). */
    private static double[] levels(Scheduler s) {
        double[] sigmas = s.sigmas();
        if (!(s instanceof HeunDiscreteScheduler)) {
            return sigmas;                                                                    // Euler: [s_0, ..., s_n]
        }
        int n = (sigmas.length) / 2;                                                          // Heun: [s_0, s_1, s_1, ..., s_{n-1}, s_{n-1}, 0]
        double[] out = new double[n + 1];
        for (int k = 0; k <= n; k++) {
            out[k] = sigmas[Math.max(0, 2 * k - 1)];
        }
        return out;
    }

    private static void setLevels(Scheduler s, double[] levels) {
        if (s instanceof HeunDiscreteScheduler h) {
            h.setSigmaLevels(levels);
        } else {
            s.setCustomSigmas(levels);
        }
    }

    // The combined schedule: base entries 0..landing, then K passes of passLength entries, then the rest of the base's.

    private int restartEntries() {
        return landing < 0 ? 0 : settings.iterations() * passLength;
    }

    private boolean inPass(int i) {
        return landing >= 0 && i > landing && i <= landing + restartEntries();
    }

    private Scheduler at(int i) {
        check(i);
        return inPass(i) ? pass : base;
    }

    private int local(int i) {
        if (inPass(i)) {
            return (i - landing - 1) % passLength;
        }
        return landing >= 0 && i > landing ? i - restartEntries() : i;
    }

    /** Whether the sample, after entry i, is at t_min with a restart to follow: the base's landing entry, or a pass's last but the K-th. */
    private boolean restartsAfter(int i) {
        return landing >= 0 && i >= landing && i < landing + restartEntries() && (i - landing) % passLength == 0;
    }

    private void check(int i) {
        int length = base.timesteps().length + restartEntries();
        if (i < 0 || i >= length) {
            throw new IllegalArgumentException(name() + ": step index " + i + " is outside 0.." + (length - 1));
        }
    }

    @Override
    public double[] timesteps() {
        double[] b = base.timesteps();
        if (landing < 0) {
            return b;
        }
        double[] p = pass.timesteps();
        double[] out = new double[b.length + restartEntries()];
        System.arraycopy(b, 0, out, 0, landing + 1);
        for (int k = 0; k < settings.iterations(); k++) {
            System.arraycopy(p, 0, out, landing + 1 + k * passLength, passLength);
        }
        System.arraycopy(b, landing + 1, out, landing + 1 + restartEntries(), b.length - landing - 1);
        return out;
    }

    /** The base schedule's sigmas; sigmaAt gives the noise level of every entry, the restart passes' included. */
    @Override
    public double[] sigmas() {
        return base.sigmas();
    }

    @Override
    public double sigmaAt(int stepIndex) {
        return at(stepIndex).sigmaAt(local(stepIndex));
    }

    @Override
    public double initNoiseSigma() {
        return base.initNoiseSigma();
    }

    @Override
    public float[] scaleModelInput(float[] sample, int stepIndex) {
        return at(stepIndex).scaleModelInput(sample, local(stepIndex));
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        float[] x = at(stepIndex).step(modelOutput, local(stepIndex), sample, shape, noise);
        if (!restartsAfter(stepIndex)) {
            return x;
        }
        if (noise == null) {
            throw new IllegalArgumentException(name() + " draws noise at each restart; pass a NoiseSource");
        }
        float[] z = noise.randn(shape.clone());
        double amp = Math.sqrt(settings.tMax() * settings.tMax() - tMin * tMin);           // forward process t_min -> t_max
        float[] out = new float[x.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = (float) (x[k] + amp * z[k]);
        }
        return out;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int stepIndex) {
        return at(stepIndex).addNoise(original, noise, local(stepIndex));
    }

    @Override
    public int order() {
        return base.order();
    }

    @Override
    public int entryOfStep(int step) {
        int e = base.entryOfStep(step);
        return landing >= 0 && e > landing ? e + restartEntries() : e;
    }

    @Override
    public String toString() {
        return name() + Arrays.toString(new double[] {settings.tMin(), settings.tMax(), settings.iterations(), settings.steps()});
    }
}
