// Learning-rate multipliers as diffusers' get_scheduler builds them (diffusers/optimization.py, the
// same formulas as transformers'), as a function of the scheduler position s (LambdaLR's
// last_epoch: 0 before the first optimizer step, +1 after each); w warmup steps, T training steps:
//   constant               1
//   constant_with_warmup   s / max(1, w) while s < w, then 1
//   linear                 s / max(1, w) while s < w, then max(0, (T - s) / max(1, T - w))
//   cosine                 s / max(1, w) while s < w, then with q = (s - w) / max(1, T - w):
//                          max(0, 0.5 (1 + cos(pi * 0.5 * 2 * q)))    (num_cycles 0.5: a half cosine)
// Past T, linear stays 0 while cosine rises again, exactly as diffusers' formula does.
package dev.ldm4j.train.optim;

import java.util.List;

public record LrSchedule(String name, int warmupSteps, int trainingSteps) {
    /** The schedule names accepted, as diffusers spells them. */
    public static final List<String> NAMES = List.of("constant", "constant_with_warmup", "linear", "cosine");

    private static final double NUM_CYCLES = 0.5;

    public LrSchedule {
        if (!NAMES.contains(name)) {
            throw new IllegalArgumentException("unknown lr schedule '" + name + "' (supported: " + String.join(", ", NAMES) + ")");
        }
        if (warmupSteps < 0) {
            throw new IllegalArgumentException("lr schedule " + name + ": warmup steps " + warmupSteps + " is negative");
        }
        if (trainingSteps < 0) {
            throw new IllegalArgumentException("lr schedule " + name + ": training steps " + trainingSteps + " is negative");
        }
    }

    /**
     * As get_scheduler(name, num_warmup_steps, num_training_steps). constant ignores both counts,
     * constant_with_warmup ignores trainingSteps (as diffusers does).
     */
    public static LrSchedule get(String name, int warmupSteps, int trainingSteps) {
        return switch (name) {
            case "constant" -> constant();
            case "constant_with_warmup" -> constantWithWarmup(warmupSteps);
            default -> new LrSchedule(name, warmupSteps, trainingSteps);
        };
    }

    public static LrSchedule constant() {
        return new LrSchedule("constant", 0, 0);
    }

    public static LrSchedule constantWithWarmup(int warmupSteps) {
        return new LrSchedule("constant_with_warmup", warmupSteps, 0);
    }

    public static LrSchedule linear(int warmupSteps, int trainingSteps) {
        return new LrSchedule("linear", warmupSteps, trainingSteps);
    }

    public static LrSchedule cosine(int warmupSteps, int trainingSteps) {
        return new LrSchedule("cosine", warmupSteps, trainingSteps);
    }

    /** The multiplier of the base learning rate at scheduler position s (LambdaLR's lr_lambda(s)). */
    public double factor(long s) {
        if (s < 0) {
            throw new IllegalArgumentException("lr schedule position " + s + " is negative");
        }
        if (name.equals("constant")) {
            return 1.0;
        }
        if (s < warmupSteps) {
            return (double) s / Math.max(1, warmupSteps);
        }
        return switch (name) {
            case "constant_with_warmup" -> 1.0;
            case "linear" -> Math.max(0.0, (double) (trainingSteps - s) / Math.max(1, trainingSteps - warmupSteps));
            case "cosine" -> {
                double progress = (double) (s - warmupSteps) / Math.max(1, trainingSteps - warmupSteps);
                yield Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * NUM_CYCLES * 2.0 * progress)));
            }
            default -> throw new IllegalStateException("unhandled schedule " + name);
        };
    }
}
