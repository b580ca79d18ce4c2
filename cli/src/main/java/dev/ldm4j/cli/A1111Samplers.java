// AUTOMATIC1111's sampler and schedule-type names beside ours, both ways. The pairs follow diffusers'
// table of A1111 / k-diffusion names (docs: "Schedulers", A1111 column); "Schedule type" is read as the
// web UI reads it (modules/sd_samplers.py get_sampler_and_scheduler): a schedule named at the end of the
// sampler name ("DPM++ 2M Karras", the form before v1.9) wins, else the field, else "Automatic", which
// means the sampler's own default (Karras for DPM++ 2M, DPM++ SDE, DPM2 and DPM2 a; Exponential for
// DPM++ 2M SDE; the model's spacing for the rest). What ldm4j lacks is refused by name.
package dev.ldm4j.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

final class A1111Samplers {
    private A1111Samplers() {
    }

    /** Our scheduler, A1111's name for it, and A1111's default schedule type for that sampler. */
    private record Sampler(String ours, String a1111, String defaultSchedule) {
    }

    private static final List<Sampler> SAMPLERS = List.of(
            new Sampler("euler_a", "Euler a", "Uniform"),
            new Sampler("euler", "Euler", "Uniform"),
            new Sampler("lms", "LMS", "Uniform"),
            new Sampler("heun", "Heun", "Uniform"),
            new Sampler("kdpm2", "DPM2", "Karras"),
            new Sampler("kdpm2_a", "DPM2 a", "Karras"),
            new Sampler("dpmpp_2m", "DPM++ 2M", "Karras"),
            new Sampler("dpmpp_2s", "DPM++ SDE", "Karras"),
            new Sampler("dpmpp_2m_sde", "DPM++ 2M SDE", "Exponential"),
            new Sampler("ddim", "DDIM", "Automatic"),
            new Sampler("pndm", "PLMS", "Automatic"),
            new Sampler("unipc", "UniPC", "Automatic"),
            new Sampler("lcm", "LCM", "Automatic"),
            // Not in the web UI; written under these names so that the text still names them.
            new Sampler("ddpm", "DDPM", "Automatic"),
            new Sampler("deis", "DEIS", "Automatic"),
            new Sampler("tcd", "TCD", "Automatic"));

    /** diffusers class -> our name, for writing the A1111 name of a model's own scheduler. */
    private static final Map<String, String> BY_CLASS = Map.ofEntries(
            Map.entry("DDPMScheduler", "ddpm"), Map.entry("DDIMScheduler", "ddim"), Map.entry("PNDMScheduler", "pndm"),
            Map.entry("LMSDiscreteScheduler", "lms"), Map.entry("EulerDiscreteScheduler", "euler"),
            Map.entry("EulerAncestralDiscreteScheduler", "euler_a"), Map.entry("HeunDiscreteScheduler", "heun"),
            Map.entry("KDPM2DiscreteScheduler", "kdpm2"), Map.entry("KDPM2AncestralDiscreteScheduler", "kdpm2_a"),
            Map.entry("DPMSolverMultistepScheduler", "dpmpp_2m"), Map.entry("DPMSolverSinglestepScheduler", "dpmpp_2s"),
            Map.entry("UniPCMultistepScheduler", "unipc"), Map.entry("DEISMultistepScheduler", "deis"),
            Map.entry("LCMScheduler", "lcm"), Map.entry("TCDScheduler", "tcd"));

    /** The web UI's schedule types: label -> name (sd_schedulers.schedulers, with the alias SGMUniform). */
    private static final Map<String, String> SCHEDULES = new LinkedHashMap<>();

    static {
        for (String[] s : new String[][] {{"Automatic", "automatic"}, {"Uniform", "uniform"}, {"Karras", "karras"},
                {"Exponential", "exponential"}, {"Polyexponential", "polyexponential"}, {"SGM Uniform", "sgm_uniform"},
                {"KL Optimal", "kl_optimal"}, {"Align Your Steps", "align_your_steps"}, {"Simple", "simple"},
                {"Normal", "normal"}, {"DDIM", "ddim"}, {"Beta", "beta"}, {"Turbo", "turbo"}}) {
            SCHEDULES.put(s[0], s[1]);
        }
    }

    /** What a sampler and schedule type come to here: our scheduler name and whether Karras sigmas are on. */
    record Choice(String scheduler, boolean karras) {
    }

    /** A1111's sampler name for our scheduler name, or for a diffusers class name (a model's own scheduler). */
    static String a1111Name(String oursOrClass) {
        String ours = BY_CLASS.getOrDefault(oursOrClass, oursOrClass);
        for (Sampler s : SAMPLERS) {
            if (s.ours().equals(ours)) {
                return s.a1111();
            }
        }
        return oursOrClass;
    }

    /**
     * The Schedule type to write for our scheduler: Karras when on; else, where A1111's default for the
     * sampler is another schedule, Uniform (evenly spaced, as the model's own spacing); else nothing.
     */
    static String scheduleType(String oursOrClass, boolean karras) {
        if (karras) {
            return "Karras";
        }
        String ours = BY_CLASS.getOrDefault(oursOrClass, oursOrClass);
        for (Sampler s : SAMPLERS) {
            if (s.ours().equals(ours)) {
                return s.defaultSchedule().equals("Karras") || s.defaultSchedule().equals("Exponential") ? "Uniform" : null;
            }
        }
        return null;
    }

    /**
     * Our scheduler for an A1111 sampler name and schedule type (null: "Automatic").
     *
     * @throws Main.UserError naming the sampler or schedule ldm4j lacks
     */
    static Choice read(String sampler, String scheduleType) {
        String name = sampler;
        String schedule = scheduleType == null ? "Automatic" : labelOf(scheduleType);
        for (Map.Entry<String, String> s : SCHEDULES.entrySet()) {
            for (String option : new String[] {s.getKey(), s.getValue(), s.getValue().equals("sgm_uniform") ? "SGMUniform" : null}) {
                if (option != null && name.endsWith(" " + option)) {
                    schedule = s.getKey();
                    name = name.substring(0, name.length() - option.length() - 1);
                    break;
                }
            }
        }
        Sampler found = null;
        for (Sampler s : SAMPLERS) {
            if (s.a1111().equals(name)) {
                found = s;
            }
        }
        if (found == null) {
            throw new Main.UserError("the sampler '" + sampler + "' is not available in ldm4j (it has "
                    + String.join(", ", SAMPLERS.stream().map(Sampler::a1111).toList()) + ")");
        }
        if (schedule == null) {
            throw new Main.UserError("the schedule type '" + scheduleType + "' is unknown (A1111's are "
                    + String.join(", ", SCHEDULES.keySet()) + ")");
        }
        String effective = schedule.equals("Automatic") ? found.defaultSchedule() : schedule;
        return switch (effective) {
            case "Karras" -> new Choice(found.ours(), true);
            case "Automatic", "Uniform" -> new Choice(found.ours(), false);
            default -> throw new Main.UserError("the schedule type '" + effective + "'" + (schedule.equals("Automatic") ? " (the default of "
                    + found.a1111() + ")" : "") + " is not available in ldm4j (Karras and Uniform are)");
        };
    }

    /** The label of a schedule type given by label or name; null when it is neither. */
    private static String labelOf(String labelOrName) {
        for (Map.Entry<String, String> s : SCHEDULES.entrySet()) {
            if (s.getKey().equals(labelOrName) || s.getValue().equals(labelOrName) || (labelOrName.equals("SGMUniform") && s.getValue().equals("sgm_uniform"))) {
                return s.getKey();
            }
        }
        return null;
    }
}
