// generate's sampling switches (issue 17), a picocli mixin: guidance rescale, guidance in a sigma interval,
// hand-given timesteps or sigmas (with the Align Your Steps preset), dynamic thresholding, and restart sampling.
// Each value is checked before the model loads; each switch is written into the PNG's parameters under its own key
// and read back by --from-png. --dynamic-threshold becomes the scheduler options diffusers' scripts set
// (thresholding, dynamic_thresholding_ratio, sample_max_value), so it is recorded as those.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.pipeline.GuidanceInterval;
import dev.ldm4j.diffusion.pipeline.SamplingOptions;
import dev.ldm4j.diffusion.schedulers.CustomSchedule;
import dev.ldm4j.diffusion.schedulers.CustomScheduleException;
import dev.ldm4j.diffusion.schedulers.RestartScheduler;
import dev.ldm4j.diffusion.schedulers.Scheduler;
import dev.ldm4j.diffusion.schedulers.SchedulerOptionException;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;

final class SamplingFlags {
    /** The keys these switches take in the PNG's parameters text. */
    static final List<String> INFOTEXT_KEYS = List.of("Guidance rescale", "Guidance interval", "Sigmas", "Timesteps", "Restart");

    @Option(names = "--guidance-rescale", paramLabel = "PHI",
            description = {"Rescale the guided prediction to the conditional one's standard deviation, mixed with weight PHI in [0, 1]",
                    "(diffusers' guidance_rescale, Lin et al. 2023; 0.7 for zero-terminal-SNR models; default 0: none)."})
    Double guidanceRescale;

    @Option(names = "--guidance-interval", paramLabel = "LO,HI",
            description = {"Guide only the steps whose noise level sigma is in [LO, HI] (Kynkaenniemi et al. 2024); the other steps",
                    "use the conditional prediction alone, one U-Net pass. sigma as k-diffusion's (SD 1.5: 0.03 to 14.6); HI may be inf."})
    String guidanceInterval;

    @Option(names = "--sigmas", paramLabel = "S0,S1,...|ays",
            description = {"Sample at these noise levels, one more than the steps (the last is where the final step lands), as",
                    "diffusers' set_timesteps(sigmas=...): euler only. ays: Align Your Steps' 10-step SD 1.5 schedule."})
    String sigmas;

    @Option(names = "--timesteps", paramLabel = "T0,T1,...|ays",
            description = {"Evaluate the model at these train timesteps, in decreasing order, as diffusers' set_timesteps(timesteps=...):",
                    "euler, ddpm, dpmpp_2m, dpmpp_2m_sde. ays: Align Your Steps' 10-step SD 1.5 schedule."})
    String timesteps;

    @Option(names = "--dynamic-threshold", paramLabel = "RATIO[:MAX]",
            description = {"Dynamic thresholding of the predicted x0 (Imagen): per image, clamp to the RATIO-quantile of |x0| (kept within",
                    "[1, MAX]) and divide by it; ddpm ddim dpmpp_* unipc deis. MAX defaults to the scheduler config's sample_max_value",
                    "(diffusers' default 1, which is plain clipping to [-1, 1], too tight for SD latents: give one, e.g. 0.995:4)."})
    String dynamicThreshold;

    @Option(names = "--restart", paramLabel = "TMIN,TMAX,K[,N]", arity = "0..1", fallbackValue = RESTART_PAPER,
            description = {"Restart sampling (Xu et al. 2023) with --scheduler euler or heun: run down to the noise level TMIN (sigma), then K",
                    "times add forward noise back up to TMAX and solve the ODE down to TMIN again in N steps (default 9). Alone: the",
                    "paper's Stable Diffusion setting, " + RESTART_PAPER + "."})
    String restart;

    /** --restart alone: the paper's SD setting, [0.1, 2], K = 2, N_Restart = 10 grid points (9 steps). */
    static final String RESTART_PAPER = "0.1,2,2,9";

    /** The largest K and N --restart takes: far beyond the paper's (K <= 10 or so), far below a run that never ends. */
    private static final int MAX_RESTART = 1000;

    /** The parsed switches; valid after check(). */
    private SamplingOptions options = SamplingOptions.DEFAULT;

    /**
     * Checks every value and parses it; stepsGiven: whether --steps was given (it cannot be, beside a schedule).
     *
     * @throws Main.UserError naming the flag and the value
     */
    void check(boolean stepsGiven, boolean latentConsistency) {
        if (latentConsistency && (guidanceRescale != null || guidanceInterval != null)) {
            throw new Main.UserError((guidanceRescale != null ? "--guidance-rescale" : "--guidance-interval") + " does not apply to an"
                    + " LCM-distilled U-Net (time_cond_proj_dim): its guidance is an embedding, with no classifier-free guidance to act on");
        }
        SamplingOptions o = SamplingOptions.DEFAULT;
        if (guidanceRescale != null) {
            if (!(guidanceRescale >= 0 && guidanceRescale <= 1)) {
                throw new Main.UserError("--guidance-rescale must be in [0, 1], got " + guidanceRescale);
            }
            o = o.withGuidanceRescale(guidanceRescale);
        }
        if (guidanceInterval != null) {
            o = o.withGuidanceInterval(interval(guidanceInterval));
        }
        if (sigmas != null && timesteps != null) {
            throw new Main.UserError("--sigmas and --timesteps: give one (diffusers' set_timesteps takes one of them)");
        }
        if (sigmas != null) {
            o = o.withSchedule(schedule("--sigmas", sigmas, CustomSchedule.Kind.SIGMAS));
        } else if (timesteps != null) {
            o = o.withSchedule(schedule("--timesteps", timesteps, CustomSchedule.Kind.TIMESTEPS));
        }
        if (o.schedule() != null && stepsGiven) {
            throw new Main.UserError("--steps and " + (sigmas != null ? "--sigmas" : "--timesteps")
                    + ": give one (the schedule sets the number of steps)");
        }
        if (dynamicThreshold != null) {
            thresholdOptions();
        }
        if (restart != null) {
            restartSettings = restartSettings(restart);
        }
        options = o;
    }

    /** --restart, parsed; null without it. */
    private RestartScheduler.Settings restartSettings;

    /**
     * Refuses --restart beside a sampler it cannot run with, before the model loads: scheduler is the run's name (null:
     * the model's own), churn whether --scheduler-option s_churn is set, steps the run's.
     */
    void checkRestart(String scheduler, boolean churn, int steps) {
        if (restartSettings == null) {
            return;
        }
        if (scheduler == null || !List.of("euler", "heun").contains(scheduler)) {
            throw new Main.UserError("--restart re-solves the probability-flow ODE with euler or heun (the paper's samplers): add --scheduler euler"
                    + " or --scheduler heun" + (scheduler == null ? "" : ", not " + scheduler));
        }
        if (churn) {
            throw new Main.UserError("--restart needs the ODE: leave out --scheduler-option s_churn (Euler's churn adds noise of its own)");
        }
        if (restartSettings.iterations() > 0 && steps < 2) {
            throw new Main.UserError("--restart needs at least 2 steps to restart inside, got " + steps);
        }
    }

    /** The run's sampler: s, or restart sampling around it with --restart. */
    Scheduler withRestart(Scheduler s) {
        return restartSettings == null ? s : new RestartScheduler(s, restartSettings);
    }

    SamplingOptions options() {
        return options;
    }

    /** The steps a run takes: the schedule's when one is given, else steps. */
    int steps(int steps) {
        return options.schedule() == null ? steps : options.schedule().steps();
    }

    /** --dynamic-threshold as scheduler options (applied before the command line's own --scheduler-option). */
    Map<String, String> thresholdOptions() {
        if (dynamicThreshold == null) {
            return Map.of();
        }
        String[] parts = dynamicThreshold.split(":", -1);
        if (parts.length > 2) {
            throw new Main.UserError("--dynamic-threshold must be RATIO or RATIO:MAX (e.g. 0.995:4), got '" + dynamicThreshold + "'");
        }
        double ratio = number("--dynamic-threshold", dynamicThreshold, parts[0]);
        if (!(ratio > 0 && ratio <= 1)) {
            throw new Main.UserError("--dynamic-threshold: RATIO must be in (0, 1], got '" + dynamicThreshold + "'");
        }
        Map<String, String> o = new LinkedHashMap<>();
        o.put("thresholding", "true");
        o.put("dynamic_thresholding_ratio", parts[0].strip());
        if (parts.length == 2) {
            double max = number("--dynamic-threshold", dynamicThreshold, parts[1]);
            if (!(max >= 1) || Double.isInfinite(max)) {
                throw new Main.UserError("--dynamic-threshold: MAX must be a finite number >= 1, got '" + dynamicThreshold + "'");
            }
            o.put("sample_max_value", parts[1].strip());
        }
        return o;
    }

    /** Refuses, by flag, a switch the chosen scheduler cannot take (its schedule is set on a trial basis and re-set by the run). */
    void checkScheduler(Scheduler s) {
        if (options.schedule() == null) {
            return;
        }
        try {
            options.schedule().applyTo(s);
        } catch (CustomScheduleException e) {
            throw new Main.UserError("--" + e.kind().label() + ": " + e.getMessage());
        }
    }

    /**
     * The error to show when the scheduler refused an option: said with --dynamic-threshold when that option came
     * from it (a scheduler without diffusers' thresholding key), else null.
     */
    Main.UserError thresholdRefusal(SchedulerOptionException e) {
        if (dynamicThreshold == null || !thresholdOptions().containsKey(e.key())) {
            return null;
        }
        String name = e.getMessage().replaceFirst(".*is not an option of (\\w+).*", "$1");
        return new Main.UserError("--dynamic-threshold: " + name + " has no thresholding in diffusers;"
                + " use ddpm, ddim, dpmpp_2m, dpmpp_2m_sde, dpmpp_2s, unipc or deis");
    }

    /** The parameters text with these switches' fields, then more, added before its Version field. */
    Infotext addTo(Infotext text, Map<String, String> more) {
        Map<String, String> added = new LinkedHashMap<>(infotextFields());
        added.putAll(more);
        Map<String, String> f = new LinkedHashMap<>();
        text.fields().forEach((k, v) -> {
            if (k.equals("Version")) {
                f.putAll(added);
            }
            f.put(k, v);
        });
        f.putAll(added);
        return new Infotext(text.prompt(), text.negativePrompt(), f);
    }

    /** The switches as parameters-text fields (only those given). */
    Map<String, String> infotextFields() {
        Map<String, String> f = new LinkedHashMap<>();
        if (guidanceRescale != null) {
            f.put("Guidance rescale", Double.toString(guidanceRescale));
        }
        if (guidanceInterval != null) {
            f.put("Guidance interval", guidanceInterval);
        }
        if (sigmas != null) {
            f.put("Sigmas", sigmas);
        }
        if (timesteps != null) {
            f.put("Timesteps", timesteps);
        }
        if (restart != null) {
            RestartScheduler.Settings r = restartSettings(restart);
            f.put("Restart", plain(r.tMin()) + "," + plain(r.tMax()) + "," + r.iterations() + "," + r.steps());
        }
        return f;
    }

    /** --from-png: the switches the file holds that the command line does not give (given: whether a flag was given). */
    void readFrom(Map<String, String> fields, Predicate<String> given) {
        if (!given.test("--guidance-rescale") && fields.containsKey("Guidance rescale")) {
            guidanceRescale = number("Guidance rescale", fields.get("Guidance rescale"), fields.get("Guidance rescale"));
        }
        if (!given.test("--guidance-interval") && fields.containsKey("Guidance interval")) {
            guidanceInterval = fields.get("Guidance interval");
        }
        if (!given.test("--restart") && fields.containsKey("Restart")) {
            restart = fields.get("Restart");
        }
        if (!given.test("--sigmas") && !given.test("--timesteps") && !given.test("--steps")) {
            sigmas = fields.getOrDefault("Sigmas", sigmas);
            timesteps = fields.getOrDefault("Timesteps", timesteps);
        }
    }

    private static GuidanceInterval interval(String text) {
        String[] parts = text.split(",", -1);
        if (parts.length != 2) {
            throw new Main.UserError("--guidance-interval must be LO,HI (two sigmas, e.g. 0.28,5.42), got '" + text + "'");
        }
        double lo = number("--guidance-interval", text, parts[0]);
        double hi = parts[1].strip().toLowerCase(Locale.ROOT).equals("inf") ? Double.POSITIVE_INFINITY : number("--guidance-interval", text, parts[1]);
        if (!(lo >= 0) || Double.isInfinite(lo) || !(hi >= lo)) {
            throw new Main.UserError("--guidance-interval needs 0 <= LO <= HI, got '" + text + "'");
        }
        return new GuidanceInterval(lo, hi);
    }

    /** TMIN,TMAX,K[,N] as restart settings (N by default the paper's SD setting's, 9), or one line saying what is wrong. */
    private static RestartScheduler.Settings restartSettings(String text) {
        String[] parts = text.split(",", -1);
        if (parts.length < 3 || parts.length > 4) {
            throw new Main.UserError("--restart must be TMIN,TMAX,K or TMIN,TMAX,K,N (e.g. " + RESTART_PAPER + "), got '" + text + "'");
        }
        double tMin = number("--restart", text, parts[0]);
        double tMax = number("--restart", text, parts[1]);
        if (!(tMin > 0 && tMax > tMin)) {
            throw new Main.UserError("--restart needs 0 < TMIN < TMAX, got '" + text + "'");
        }
        int k = count("--restart: K", text, parts[2], 0);
        int n = parts.length == 4 ? count("--restart: N", text, parts[3], 1) : RestartScheduler.Settings.SD.steps();
        return new RestartScheduler.Settings(tMin, tMax, k, n);
    }

    /** A whole number from min to MAX_RESTART. */
    private static int count(String what, String whole, String part, int min) {
        try {
            int v = Integer.parseInt(part.strip());
            if (v >= min && v <= MAX_RESTART) {
                return v;
            }
        } catch (NumberFormatException notWhole) {
            // said below
        }
        throw new Main.UserError(what + " must be a whole number from " + min + " to " + MAX_RESTART + ", got '" + part.strip()
                + "' (in '" + whole + "')");
    }

    /** A number as written back into the PNG: 2 rather than 2.0. */
    private static String plain(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    private static CustomSchedule schedule(String flag, String text, CustomSchedule.Kind kind) {
        if (text.strip().equalsIgnoreCase("ays")) {
            return kind == CustomSchedule.Kind.SIGMAS ? CustomSchedule.alignYourStepsSigmas() : CustomSchedule.alignYourStepsTimesteps();
        }
        List<Double> values = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            values.add(number(flag, text, part));
        }
        try {
            return new CustomSchedule(kind, values.stream().mapToDouble(Double::doubleValue).toArray());
        } catch (IllegalArgumentException e) {
            throw new Main.UserError(flag + ": " + e.getMessage() + " (in '" + text + "')");
        }
    }

    private static double number(String flag, String whole, String part) {
        try {
            double v = Double.parseDouble(part.strip());
            if (Double.isFinite(v)) {
                return v;
            }
        } catch (NumberFormatException notANumber) {
            // said below
        }
        throw new Main.UserError(flag + ": '" + part.strip() + "' is not a number (in '" + whole + "')");
    }
}
