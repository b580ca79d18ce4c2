// torch.optim.AdamW (amsgrad=False, maximize=False), the single-tensor path, in float32 with the
// scalars computed in double as Python computes them. Loshchilov & Hutter, "Decoupled Weight Decay
// Regularization" (2019), Algorithm 2, in PyTorch's formulation. Per step t (1-based), per element:
//   p  = p * (1 - lr * wd)                      decoupled decay (skipped for excluded parameters)
//   m  = lerp(m, g, 1 - b1)  = b1 m + (1 - b1) g
//   v  = v * b2 + (1 - b2) g g
//   p  = p + (-lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// The float operations follow torch's CPU kernels in order: lerp_ is a fused multiply-add
// (its vectorised kernel calls fmadd), addcmul_ is v + (c g) g, and addcdiv_ is p + (s m) / denom.
// Whether torch's compiler fused other multiply-adds cannot be known from here, so agreement with
// torch is to about an ulp per step, not guaranteed bit for bit.
package dev.ldm4j.train.optim;

import java.util.Collections;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;

public final class AdamW {
    /**
     * AdamW's hyperparameters. defaults() are those of the diffusers training scripts (lr 1e-4, betas
     * (0.9, 0.999), eps 1e-8, weight decay 1e-2); torch's own default lr is 1e-3. Validated as torch does.
     */
    public record Hyperparameters(double lr, double beta1, double beta2, double eps, double weightDecay) {
        public Hyperparameters {
            if (!(lr >= 0)) {
                throw new IllegalArgumentException("Invalid learning rate: " + lr + " (must be >= 0)");
            }
            if (!(eps >= 0)) {
                throw new IllegalArgumentException("Invalid epsilon value: " + eps + " (must be >= 0)");
            }
            if (!(beta1 >= 0 && beta1 < 1)) {
                throw new IllegalArgumentException("Invalid beta parameter at index 0: " + beta1 + " (must be in [0, 1))");
            }
            if (!(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("Invalid beta parameter at index 1: " + beta2 + " (must be in [0, 1))");
            }
            if (!(weightDecay >= 0)) {
                throw new IllegalArgumentException("Invalid weight_decay value: " + weightDecay + " (must be >= 0)");
            }
        }

        public static Hyperparameters defaults() {
            return new Hyperparameters(1e-4, 0.9, 0.999, 1e-8, 1e-2);
        }

        public Hyperparameters withLr(double newLr) {
            return new Hyperparameters(newLr, beta1, beta2, eps, weightDecay);
        }

        public Hyperparameters withWeightDecay(double newWeightDecay) {
            return new Hyperparameters(lr, beta1, beta2, eps, newWeightDecay);
        }
    }

    /** Excludes no parameter from weight decay (torch's single param group). */
    public static final Predicate<String> DECAY_ALL = name -> false;

    /**
     * Excludes biases and normalisation weights from weight decay, the usual second param group:
     * a name whose last segment is "bias", or with a segment that contains "norm" (norm1,
     * group_norm, final_layer_norm, conv_norm_out) or starts with "ln_" (OpenCLIP's ln_1, ln_final).
     */
    public static Predicate<String> biasesAndNorms() {
        return name -> {
            String[] segments = name.split("\\.");
            if (segments[segments.length - 1].equals("bias")) {
                return true;
            }
            for (String s : segments) {
                if (s.contains("norm") || s.startsWith("ln_")) {
                    return true;
                }
            }
            return false;
        };
    }

    private final TrainableParams params;
    private final Hyperparameters hyper;
    private final SortedSet<String> noWeightDecay = new TreeSet<>();
    private final Map<String, float[]> expAvg = new TreeMap<>();
    private final Map<String, float[]> expAvgSq = new TreeMap<>();
    private long steps;

    /** AdamW with defaults() over every parameter, all decayed. */
    public AdamW(TrainableParams params) {
        this(params, Hyperparameters.defaults(), DECAY_ALL);
    }

    public AdamW(TrainableParams params, Hyperparameters hyper) {
        this(params, hyper, DECAY_ALL);
    }

    /**
     * @param excludeFromWeightDecay true for the names of parameters that get no weight decay (torch: a
     *                               second param group with weight_decay=0); asked once per parameter, here
     */
    public AdamW(TrainableParams params, Hyperparameters hyper, Predicate<String> excludeFromWeightDecay) {
        this.params = params;
        this.hyper = hyper;
        for (TrainableParams.Param p : params) {
            if (excludeFromWeightDecay.test(p.name())) {
                noWeightDecay.add(p.name());
            }
            expAvg.put(p.name(), new float[p.numel()]);
            expAvgSq.put(p.name(), new float[p.numel()]);
        }
    }

    /** One update with the configured learning rate. */
    public void step() {
        step(hyper.lr);
    }

    /** One update with learning rate lr (what an LR scheduler has set the param group's lr to). */
    public void step(double lr) {
        if (!(lr >= 0)) {
            throw new IllegalArgumentException("Invalid learning rate: " + lr + " (must be >= 0)");
        }
        steps++;
        // Scalars as torch computes them in Python doubles, then cast to float by each kernel.
        double biasCorrection1 = 1 - Math.pow(hyper.beta1, steps);
        double biasCorrection2 = 1 - Math.pow(hyper.beta2, steps);
        double stepSize = lr / biasCorrection1;
        float negStepSize = (float) -stepSize;
        float biasCorrection2Sqrt = (float) Math.sqrt(biasCorrection2);
        float decayFactor = (float) (1 - lr * hyper.weightDecay);
        float lerpWeight = (float) (1 - hyper.beta1);
        float beta2 = (float) hyper.beta2;
        float oneMinusBeta2 = (float) (1 - hyper.beta2);
        float eps = (float) hyper.eps;
        // Each element's update reads only its own values, so parameters go to the cores in parallel.
        params.list().parallelStream().forEach(p -> {
            boolean decay = hyper.weightDecay != 0 && !noWeightDecay.contains(p.name());
            update(p.value(), p.grad(), expAvg.get(p.name()), expAvgSq.get(p.name()), decay, decayFactor,
                    lerpWeight, beta2, oneMinusBeta2, biasCorrection2Sqrt, eps, negStepSize);
        });
    }

    private static void update(float[] value, float[] grad, float[] m, float[] v, boolean decay, float decayFactor,
                               float lerpWeight, float beta2, float oneMinusBeta2, float biasCorrection2Sqrt, float eps,
                               float negStepSize) {
        for (int i = 0; i < value.length; i++) {
            float p = decay ? value[i] * decayFactor : value[i]; // param.mul_(1 - lr * wd)
            float g = grad[i];
            float mi = Math.fma(lerpWeight, g - m[i], m[i]); // exp_avg.lerp_(grad, 1 - beta1)
            float vi = v[i] * beta2;                         // exp_avg_sq.mul_(beta2)
            vi = vi + oneMinusBeta2 * g * g;                 //   .addcmul_(grad, grad, value=1 - beta2)
            float denom = (float) Math.sqrt(vi) / biasCorrection2Sqrt + eps; // (exp_avg_sq.sqrt() / bc2_sqrt).add_(eps)
            value[i] = p + negStepSize * mi / denom;         // param.addcdiv_(exp_avg, denom, value=-step_size)
            m[i] = mi;
            v[i] = vi;
        }
    }

    /** The parameters this optimizer updates. */
    public TrainableParams params() {
        return params;
    }

    public Hyperparameters hyperparameters() {
        return hyper;
    }

    /** Number of steps taken (torch's state["step"]), the t of the bias corrections. */
    public long stepCount() {
        return steps;
    }

    /** The names excluded from weight decay, sorted. */
    public SortedSet<String> noWeightDecay() {
        return Collections.unmodifiableSortedSet(noWeightDecay);
    }

    /** The first moment m (torch's exp_avg) of a parameter: the live array, for checkpointing. */
    public float[] expAvg(String name) {
        return moment(expAvg, name);
    }

    /** The second moment v (torch's exp_avg_sq) of a parameter: the live array, for checkpointing. */
    public float[] expAvgSq(String name) {
        return moment(expAvgSq, name);
    }

    private static float[] moment(Map<String, float[]> moments, String name) {
        float[] a = moments.get(name);
        if (a == null) {
            throw new IllegalArgumentException("AdamW has no state for parameter '" + name + "'");
        }
        return a;
    }

    /**
     * Sets the state as a checkpoint recorded it: the step count and both moments of every
     * parameter (copied). Every parameter must be present, with its length.
     */
    public void restore(long stepCount, Map<String, float[]> expAvgs, Map<String, float[]> expAvgSqs) {
        if (stepCount < 0) {
            throw new IllegalArgumentException("AdamW step count " + stepCount + " is negative");
        }
        for (TrainableParams.Param p : params) {
            check(expAvgs, "exp_avg", p);
            check(expAvgSqs, "exp_avg_sq", p);
        }
        for (TrainableParams.Param p : params) {
            System.arraycopy(expAvgs.get(p.name()), 0, expAvg.get(p.name()), 0, p.numel());
            System.arraycopy(expAvgSqs.get(p.name()), 0, expAvgSq.get(p.name()), 0, p.numel());
        }
        steps = stepCount;
    }

    private static void check(Map<String, float[]> moments, String what, TrainableParams.Param p) {
        float[] a = moments.get(p.name());
        if (a == null) {
            throw new IllegalArgumentException("AdamW state: no " + what + " for parameter '" + p.name() + "'");
        }
        if (a.length != p.numel()) {
            throw new IllegalArgumentException("AdamW state: " + what + " of parameter '" + p.name() + "' has " + a.length
                    + " values, the parameter " + p.numel());
        }
    }
}
