// The options a run gives its scheduler beyond the model's scheduler_config.json, as a diffusers script
// would: keyword arguments to from_config (keys the scheduler class declares), and the arguments its
// step() takes that the pipeline passes on (diffusers' pipeline `eta` reaches DDIM's and TCD's step;
// Euler's step takes Karras et al.'s s_churn, s_tmin, s_tmax, s_noise). Each option either takes
// effect or is refused with the keys that would.
package dev.ldm4j.diffusion.schedulers;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

public final class SchedulerOptions {
    private SchedulerOptions() {
    }

    /** The step() arguments a scheduler takes by name (none for most). */
    public static List<String> stepArguments(Scheduler s) {
        return switch (s) {
            case DDIMScheduler d -> List.of("eta");
            case TCDScheduler t -> List.of("eta");
            case EulerDiscreteScheduler e -> List.of("s_churn", "s_tmin", "s_tmax", "s_noise");
            default -> List.of();
        };
    }

    /** Every key an option may name for this scheduler: its config's keys, then its step() arguments. */
    public static List<String> validKeys(Scheduler s) {
        List<String> keys = new ArrayList<>(s.config().asMap().keySet());
        keys.addAll(stepArguments(s));
        return keys;
    }

    /**
     * Checks options against a scheduler built from a config that already held them: a config key
     * must have kept the value given (a scheduler name such as dpmpp_2m fixes some), a step argument
     * is set on the scheduler now, and any other key is refused.
     *
     * @throws SchedulerOptionException naming the key and what is wrong (with the valid keys for an unknown one)
     */
    public static Scheduler apply(Scheduler s, Map<String, Object> options) {
        List<String> steps = stepArguments(s);
        for (var e : options.entrySet()) {
            String key = e.getKey();
            if (s.config().has(key)) {
                Object kept = s.config().asMap().get(key);
                if (!sameValue(kept, e.getValue())) {
                    throw new SchedulerOptionException(key, key + "=" + e.getValue() + " does not apply: this choice of "
                            + s.name() + " fixes " + key + " = " + kept);
                }
            } else if (!steps.contains(key)) {
                throw new SchedulerOptionException(key, "'" + key + "' is not an option of " + s.name() + "; valid keys: "
                        + String.join(" ", validKeys(s)));
            }
        }
        switch (s) {
            case DDIMScheduler d when options.containsKey("eta") -> d.setEta(number(options, "eta", 0));
            case TCDScheduler t when options.containsKey("eta") -> t.setEta(number(options, "eta", 0));
            case EulerDiscreteScheduler eu when steps.stream().anyMatch(options::containsKey) -> eu.setChurn(
                    number(options, "s_churn", 0), number(options, "s_tmin", 0),
                    number(options, "s_tmax", Double.POSITIVE_INFINITY), number(options, "s_noise", 1));
            default -> {
            }
        }
        return s;
    }

    private static double number(Map<String, Object> options, String key, double absent) {
        Object v = options.get(key);
        if (v == null) {
            return absent;
        }
        if (v instanceof Number n && !Double.isNaN(n.doubleValue())) {
            return n.doubleValue();
        }
        throw new SchedulerOptionException(key, key + " must be a number, got '" + v + "'");
    }

    /** Equal as JSON values: numbers by value (1 and 1.0 alike), everything else by equals. */
    private static boolean sameValue(Object a, Object b) {
        if (a instanceof Number x && b instanceof Number y) {
            return x.doubleValue() == y.doubleValue();
        }
        return Objects.equals(a, b);
    }
}
