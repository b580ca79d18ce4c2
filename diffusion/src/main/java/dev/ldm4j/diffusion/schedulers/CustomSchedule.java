// A sampling schedule given by hand instead of computed from a step count: diffusers' set_timesteps(timesteps=[...])
// (the train timesteps the model is evaluated at, in order) or set_timesteps(sigmas=[...]) (the noise levels,
// one more than the steps: the last is where the final step lands). In diffusers 0.31 DDPM, DPM-Solver
// (multistep and single-step), Euler, Heun, LCM and TCD take timesteps and only Euler takes sigmas; here
// DDPM, DPM-Solver multistep and Euler take timesteps and Euler takes sigmas, and every other scheduler
// refuses either by name (Scheduler.setCustomTimesteps / setCustomSigmas).
//
// One published preset: Align Your Steps (Sabour, Fidler & Kreis 2024, "Align Your Steps: Optimizing Sampling
// Schedules in Diffusion Models", https://research.nvidia.com/labs/toronto-ai/AlignYourSteps/), whose page gives
// the optimized 10-step schedule of SD 1.5 as 11 time points from sigma_max to sigma_min.
package dev.ldm4j.diffusion.schedulers;

import java.util.Arrays;
import java.util.List;

/**
 * @param kind   which set_timesteps argument the values are
 * @param values timesteps (strictly decreasing, >= 0) or sigmas (at least two, strictly decreasing, the last >= 0)
 */
public record CustomSchedule(Kind kind, double[] values) {

    public enum Kind {
        TIMESTEPS("timesteps"), SIGMAS("sigmas");

        private final String label;

        Kind(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** AYS for SD 1.5, the 11 noise levels NVIDIA's page gives (sigma_max 14.615 ... sigma_min 0.029). */
    static final double[] AYS_SD15_SIGMAS = {14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029};
    /** AYS for SD 1.5, the same 11 points as train timesteps, as NVIDIA's page gives them. */
    static final double[] AYS_SD15_TIMESTEPS = {999, 850, 736, 645, 545, 455, 343, 233, 124, 24, 0};

    public CustomSchedule {
        values = values.clone();
        int min = kind == Kind.SIGMAS ? 2 : 1;
        if (values.length < min) {
            throw new IllegalArgumentException(kind.label + " need at least " + min + " value" + (min > 1 ? "s" : "") + ", got " + values.length);
        }
        for (int i = 0; i < values.length; i++) {
            if (!Double.isFinite(values[i]) || values[i] < 0) {
                throw new IllegalArgumentException(kind.label + " must be finite and >= 0, got " + values[i]);
            }
            if (i > 0 && !(values[i] < values[i - 1])) {
                throw new IllegalArgumentException(kind.label + " must be strictly decreasing, got " + values[i - 1] + " then " + values[i]);
            }
        }
    }

    /**
     * AYS SD 1.5 as sigmas for a 10-step run: the first 10 of NVIDIA's points, then 0, so that the last step
     * lands on the clean sample (as diffusers' AysSchedules["StableDiffusionSigmas"] and ComfyUI's AYS node,
     * which replace sigma_min by 0).
     */
    public static CustomSchedule alignYourStepsSigmas() {
        double[] s = Arrays.copyOf(AYS_SD15_SIGMAS, AYS_SD15_SIGMAS.length);
        s[s.length - 1] = 0;
        return new CustomSchedule(Kind.SIGMAS, s);
    }

    /**
     * AYS SD 1.5 as timesteps for a 10-step run: the first 10 of NVIDIA's points; the 11th, t = 0, is where the
     * last step lands, not a model evaluation (as diffusers' AysSchedules["StableDiffusionTimesteps"]).
     */
    public static CustomSchedule alignYourStepsTimesteps() {
        return new CustomSchedule(Kind.TIMESTEPS, Arrays.copyOf(AYS_SD15_TIMESTEPS, AYS_SD15_TIMESTEPS.length - 1));
    }

    @Override
    public double[] values() {
        return values.clone();
    }

    /** The number of denoising steps the schedule gives: one per timestep, one fewer than the sigmas. */
    public int steps() {
        return kind == Kind.TIMESTEPS ? values.length : values.length - 1;
    }

    /** Sets the schedule on s (in place of setTimesteps(steps)). */
    public void applyTo(Scheduler s) {
        if (kind == Kind.TIMESTEPS) {
            s.setCustomTimesteps(values);
        } else {
            s.setCustomSigmas(values);
        }
    }

    /** diffusers 0.31's scheduler classes whose set_timesteps takes timesteps=. */
    private static final List<String> DIFFUSERS_TAKE_TIMESTEPS = List.of("DDPMScheduler", "DPMSolverMultistepScheduler",
            "DPMSolverSinglestepScheduler", "EulerDiscreteScheduler", "HeunDiscreteScheduler", "LCMScheduler", "TCDScheduler");

    /** Why scheduler s refuses custom values of this kind: diffusers has none for it, or ldm4j does not implement them yet. */
    static CustomScheduleException refused(Scheduler s, Kind kind) {
        String here = kind == Kind.TIMESTEPS ? "ddpm, dpmpp_2m, dpmpp_2m_sde and euler" : "euler";
        boolean diffusersHas = kind == Kind.TIMESTEPS ? DIFFUSERS_TAKE_TIMESTEPS.contains(s.name()) : s.name().equals("EulerDiscreteScheduler");
        String why = diffusersHas ? " is not implemented in ldm4j for " + s.name() + " yet"
                : " is not an argument of " + s.name() + ".set_timesteps in diffusers 0.31";
        return new CustomScheduleException(kind, "custom " + kind.label + why + "; schedulers that take them: " + here);
    }

    /**
     * Checks custom timesteps against a scheduler's train range (and, when whole, that each is an integer); refuses
     * them beside Karras sigmas, as diffusers does.
     */
    static void checkTimesteps(Scheduler s, double[] t, int numTrainTimesteps, boolean whole) {
        if (s.config().has("use_karras_sigmas") && s.config().getBoolean("use_karras_sigmas")) {
            throw new CustomScheduleException(Kind.TIMESTEPS, s.name() + ": custom timesteps cannot be combined with"
                    + " Karras sigmas (diffusers refuses use_karras_sigmas with timesteps)");
        }
        for (double v : t) {
            if (v >= numTrainTimesteps) {
                throw new CustomScheduleException(Kind.TIMESTEPS, s.name() + ": timesteps must be below num_train_timesteps ("
                        + numTrainTimesteps + "), got " + v);
            }
            if (whole && v != Math.rint(v)) {
                throw new CustomScheduleException(Kind.TIMESTEPS, s.name() + " takes whole timesteps, got " + v);
            }
        }
    }
}
