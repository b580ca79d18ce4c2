// An exponential moving average of the weights, as diffusers' EMAModel (training_utils.py, the
// default foreach=False path). The shadow starts as a copy of the parameters; after each optimizer
// step, step() does
//   optimization_step += 1
//   decay     = get_decay(optimization_step)
//   shadow   -= (1 - decay) * (shadow - param)      in float32: d = s - p; s = s - (float)(1 - decay) * d
// with get_decay(n), from k = max(0, n - update_after_step - 1):
//   0 when k <= 0; otherwise min(decay_max, 1 - (1 + k / inv_gamma)^-power) with use_ema_warmup
//   (Karras-style warmup), else min(decay_max, (1 + k) / (10 + k)); then at least min_decay.
// So the first step copies the parameters (decay 0), and the decay approaches decay_max from below.
package dev.ldm4j.train.optim;

import java.util.Map;
import java.util.TreeMap;

public final class EmaModel {
    /** EMAModel's constructor arguments; defaults() are diffusers' (0.9999, 0, 0, no warmup, 1, 2/3). */
    public record Config(double decay, double minDecay, long updateAfterStep, boolean useEmaWarmup, double invGamma, double power) {
        public Config {
            if (!(decay >= 0 && decay <= 1)) {
                throw new IllegalArgumentException("EMA decay " + decay + " must be in [0, 1]");
            }
            if (!(minDecay >= 0 && minDecay <= 1)) {
                throw new IllegalArgumentException("EMA min_decay " + minDecay + " must be in [0, 1]");
            }
            if (updateAfterStep < 0) {
                throw new IllegalArgumentException("EMA update_after_step " + updateAfterStep + " is negative");
            }
            if (!(invGamma > 0) || !Double.isFinite(power)) {
                throw new IllegalArgumentException("EMA inv_gamma " + invGamma + " must be positive and power " + power + " finite");
            }
        }

        public static Config defaults() {
            return new Config(0.9999, 0.0, 0, false, 1.0, 2.0 / 3.0);
        }

        public Config withDecay(double newDecay) {
            return new Config(newDecay, minDecay, updateAfterStep, useEmaWarmup, invGamma, power);
        }

        /** The power-warmup variant diffusers suggests (power 2/3 for long runs, 3/4 for short ones). */
        public Config withWarmup(double newInvGamma, double newPower) {
            return new Config(decay, minDecay, updateAfterStep, true, newInvGamma, newPower);
        }
    }

    private final TrainableParams params;
    private final Config config;
    private final Map<String, float[]> shadow = new TreeMap<>();
    private long optimizationStep;
    private double currentDecay;

    /** A shadow copy of params' current values, averaged by step() after each optimizer step. */
    public EmaModel(TrainableParams params, Config config) {
        this.params = params;
        this.config = config;
        for (TrainableParams.Param p : params) {
            shadow.put(p.name(), p.value().clone());
        }
    }

    /** EMAModel.get_decay: the decay the step()-call numbered optimizationStep uses. */
    public static double decayAt(Config c, long optimizationStep) {
        long k = Math.max(0, optimizationStep - c.updateAfterStep - 1);
        if (k <= 0) {
            return 0.0;
        }
        double value = c.useEmaWarmup
                ? 1 - Math.pow(1 + k / c.invGamma, -c.power)
                : (1.0 + k) / (10.0 + k);
        value = Math.min(value, c.decay);
        return Math.max(value, c.minDecay);
    }

    /** Folds the parameters' current values into the average. */
    public void step() {
        optimizationStep++;
        currentDecay = decayAt(config, optimizationStep);
        float oneMinusDecay = (float) (1 - currentDecay);
        params.list().parallelStream().forEach(p -> { // element by element: parameters go to the cores in parallel
            float[] s = shadow.get(p.name());
            float[] v = p.value();
            for (int i = 0; i < s.length; i++) {
                float d = s[i] - v[i];         // s_param - param
                s[i] = s[i] - oneMinusDecay * d; // s_param.sub_(one_minus_decay * ...)
            }
        });
    }

    /** Writes the averaged weights into the parameters (EMAModel.copy_to), e.g. before saving a model. */
    public void copyTo(TrainableParams target) {
        for (TrainableParams.Param p : target) {
            float[] s = shadow(p.name());
            if (s.length != p.numel()) {
                throw new IllegalArgumentException("EMA shadow of '" + p.name() + "' has " + s.length + " values, the parameter " + p.numel());
            }
            System.arraycopy(s, 0, p.value(), 0, s.length);
        }
    }

    /** The averaged values of a parameter: the live array, for checkpointing. */
    public float[] shadow(String name) {
        float[] s = shadow.get(name);
        if (s == null) {
            throw new IllegalArgumentException("EMA has no shadow for parameter '" + name + "'");
        }
        return s;
    }

    public Config config() {
        return config;
    }

    /** The parameters this average follows. */
    public TrainableParams params() {
        return params;
    }

    /** How many times step() has run (EMAModel.optimization_step). */
    public long optimizationStep() {
        return optimizationStep;
    }

    /** The decay the last step() used (EMAModel.cur_decay_value); 0 before the first. */
    public double currentDecay() {
        return currentDecay;
    }

    /** Sets the state a checkpoint recorded: the step count and every shadow (copied, lengths checked). */
    public void restore(long optimizationStep, Map<String, float[]> shadows) {
        if (optimizationStep < 0) {
            throw new IllegalArgumentException("EMA optimization step " + optimizationStep + " is negative");
        }
        for (TrainableParams.Param p : params) {
            float[] s = shadows.get(p.name());
            if (s == null) {
                throw new IllegalArgumentException("EMA state: no shadow for parameter '" + p.name() + "'");
            }
            if (s.length != p.numel()) {
                throw new IllegalArgumentException("EMA state: shadow of '" + p.name() + "' has " + s.length + " values, the parameter " + p.numel());
            }
        }
        for (TrainableParams.Param p : params) {
            System.arraycopy(shadows.get(p.name()), 0, shadow.get(p.name()), 0, p.numel());
        }
        this.optimizationStep = optimizationStep;
        this.currentDecay = optimizationStep == 0 ? 0.0 : decayAt(config, optimizationStep);
    }
}
