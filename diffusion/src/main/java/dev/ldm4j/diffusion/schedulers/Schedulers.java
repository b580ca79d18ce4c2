// Creates schedulers by their CLI name (or diffusers class name) from a model's
// scheduler_config.json, deriving settings the way diffusers does when a user swaps schedulers
// with NewScheduler.from_config(pipe.scheduler.config): keys the new class declares keep their
// value from the config, the rest take the class defaults, unknown keys are ignored.
package dev.ldm4j.diffusion.schedulers;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

public final class Schedulers {
    private Schedulers() {
    }

    private record Entry(String className, Function<Map<String, Object>, Scheduler> factory,
                         Map<String, Object> overrides, boolean karrasSupported) {
    }

    private static final Map<String, Entry> BY_NAME = new LinkedHashMap<>();

    private static void add(String name, String cls, Function<Map<String, Object>, Scheduler> f, Map<String, Object> overrides, boolean karras) {
        BY_NAME.put(name, new Entry(cls, f, overrides, karras));
    }

    static {
        add("ddpm", "DDPMScheduler", DDPMScheduler::new, Map.of(), false);
        add("ddim", "DDIMScheduler", DDIMScheduler::new, Map.of(), false);
        add("pndm", "PNDMScheduler", PNDMScheduler::new, Map.of(), false);
        add("lms", "LMSDiscreteScheduler", LMSDiscreteScheduler::new, Map.of(), true);
        add("euler", "EulerDiscreteScheduler", EulerDiscreteScheduler::new, Map.of(), true);
        add("euler_a", "EulerAncestralDiscreteScheduler", EulerAncestralDiscreteScheduler::new, Map.of(), false);
        add("heun", "HeunDiscreteScheduler", HeunDiscreteScheduler::new, Map.of(), true);
        add("kdpm2", "KDPM2DiscreteScheduler", KDPM2DiscreteScheduler::new, Map.of(), true);
        add("kdpm2_a", "KDPM2AncestralDiscreteScheduler", KDPM2AncestralDiscreteScheduler::new, Map.of(), true);
        add("dpmpp_2m", "DPMSolverMultistepScheduler", DPMSolverMultistepScheduler::new,
                Map.of("algorithm_type", "dpmsolver++", "solver_order", 2L), true);
        add("dpmpp_2m_sde", "DPMSolverMultistepScheduler", DPMSolverMultistepScheduler::new,
                Map.of("algorithm_type", "sde-dpmsolver++", "solver_order", 2L), true);
        add("dpmpp_2s", "DPMSolverSinglestepScheduler", DPMSolverSinglestepScheduler::new,
                Map.of("algorithm_type", "dpmsolver++", "solver_order", 2L), true);
        add("unipc", "UniPCMultistepScheduler", UniPCMultistepScheduler::new, Map.of(), true);
        add("deis", "DEISMultistepScheduler", DEISMultistepScheduler::new, Map.of(), true);
        add("lcm", "LCMScheduler", LCMScheduler::new, Map.of(), false);
        add("tcd", "TCDScheduler", TCDScheduler::new, Map.of(), false);
        add("sde_euler", "EulerMaruyamaScheduler", EulerMaruyamaScheduler::new, Map.of(), true);
        add("pc_langevin", "PredictorCorrectorScheduler", PredictorCorrectorScheduler::new, Map.of(), true);
        add("sde_euler_vp", "EulerMaruyamaVpScheduler", EulerMaruyamaVpScheduler::new, Map.of(), true);
    }

    /** The CLI names, in a fixed order. */
    public static List<String> names() {
        return List.copyOf(BY_NAME.keySet());
    }

    /**
     * A scheduler by CLI name, configured from a model's scheduler_config.json (may be empty). Names
     * that denote a solver variant fix it (dpmpp_2m: dpmsolver++ order 2; dpmpp_2m_sde:
     * sde-dpmsolver++ order 2; dpmpp_2s: singlestep dpmsolver++ order 2); everything else follows
     * the config, then the class defaults.
     *
     * @param karras use Karras et al. 2022 sigmas (use_karras_sigmas); an error for schedulers without them
     */
    public static Scheduler create(String name, Map<String, Object> baseConfig, boolean karras) {
        Entry e = BY_NAME.get(name);
        if (e == null) {
            throw new IllegalArgumentException("unknown scheduler '" + name + "'; valid names: " + String.join(", ", names()));
        }
        if (karras && !e.karrasSupported()) {
            throw new IllegalArgumentException("scheduler '" + name + "' (" + e.className() + ") has no Karras sigmas option");
        }
        Map<String, Object> config = new LinkedHashMap<>(baseConfig == null ? Map.of() : baseConfig);
        config.putAll(e.overrides());
        if (karras) {
            config.put("use_karras_sigmas", true);
        }
        return e.factory().apply(config);
    }

    /** A scheduler by its diffusers class name (e.g. the "_class_name" of scheduler_config.json). */
    public static Scheduler fromClassName(String className, Map<String, Object> config) {
        for (Entry e : BY_NAME.values()) {
            if (e.className().equals(className)) {
                return e.factory().apply(config == null ? Map.of() : config);
            }
        }
        throw new IllegalArgumentException("unsupported scheduler class '" + className + "'; supported: "
                + String.join(", ", BY_NAME.values().stream().map(Entry::className).distinct().toList()));
    }
}
