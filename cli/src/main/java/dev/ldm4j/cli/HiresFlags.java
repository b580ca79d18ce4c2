// generate's hires fix (issue 17), a picocli mixin: --hires-scale F turns it on (StableDiffusionPipeline.generateHires:
// generate, upscale, denoise again at the new size as image-to-image), --hires-strength, --hires-steps and
// --hires-upscale set its second pass. Every value is checked before the model loads. The settings go into the PNG's
// parameters under A1111's keys (Denoising strength, Hires upscale, Hires steps, Hires upscaler) and are read back by
// --from-png, from ldm4j's files and the web UI's.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.pipeline.HiresFix;
import picocli.CommandLine.Option;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;

final class HiresFlags {
    /** The keys the hires fix takes in the PNG's parameters text (A1111's). */
    static final java.util.List<String> INFOTEXT_KEYS = java.util.List.of("Denoising strength", "Hires upscale", "Hires steps", "Hires upscaler");

    /** The second pass's strength without --hires-strength: the web UI's default denoising strength. */
    static final double DEFAULT_STRENGTH = 0.7;

    @Option(names = "--hires-scale", paramLabel = "F",
            description = {"Hires fix (A1111's): generate at --width x --height, upscale by F (1 to 8; sides down to multiples of 8), then",
                    "denoise again at the new size as image-to-image with the same prompt, guidance, sampler and generator."})
    Double scale;

    @Option(names = "--hires-strength", paramLabel = "S",
            description = "Hires fix: the second pass's denoising strength, in (0, 1] (default " + DEFAULT_STRENGTH + ", the web UI's).")
    Double strength;

    @Option(names = "--hires-steps", paramLabel = "N",
            description = "Hires fix: the second pass's schedule length, of which it runs int(N * S) steps (default: --steps).")
    Integer steps;

    @Option(names = "--hires-upscale", paramLabel = "latent|latent-bicubic|latent-nearest|pixel",
            description = {"Hires fix: how the first pass is upscaled: its latents bilinearly (latent, the default, A1111's \"Latent\"),",
                    "bicubically or to the nearest sample, or in pixels (decoded, resized bicubically, encoded again)."})
    String upscale;

    /** The parsed settings, or null without --hires-scale; valid after check(). */
    private HiresFix hires;

    /**
     * Checks every value; image: whether --image is given, latentConsistency: an LCM-distilled U-Net, customSchedule:
     * whether --sigmas or --timesteps is given, tracing: whether --trace is, interpolating: whether --interpolate is.
     *
     * @throws Main.UserError naming the flag and the value
     */
    void check(boolean image, boolean latentConsistency, boolean customSchedule, boolean tracing, boolean interpolating) {
        if (scale == null) {
            String alone = strength != null ? "--hires-strength" : steps != null ? "--hires-steps" : upscale != null ? "--hires-upscale" : null;
            if (alone != null) {
                throw new Main.UserError(alone + " sets the hires fix's second pass: give --hires-scale F too");
            }
            return;
        }
        if (!(scale >= 1 && scale <= HiresFix.MAX_SCALE)) {
            throw new Main.UserError("--hires-scale must be from 1 to " + (int) HiresFix.MAX_SCALE + ", got " + scale);
        }
        if (strength != null && !(strength > 0 && strength <= 1)) {
            throw new Main.UserError("--hires-strength must be in (0, 1], got " + strength);
        }
        if (steps != null && steps < 1) {
            throw new Main.UserError("--hires-steps must be at least 1, got " + steps);
        }
        HiresFix.Upscale mode = upscale == null ? HiresFix.Upscale.LATENT : byLabel(upscale);
        if (mode == null) {
            throw new Main.UserError("--hires-upscale must be latent, latent-bicubic, latent-nearest or pixel, got '" + upscale + "'");
        }
        if (image) {
            throw new Main.UserError("--hires-scale upscales a text-to-image run; it does not apply with --image");
        }
        if (latentConsistency) {
            throw new Main.UserError("--hires-scale: its second pass is image-to-image, not supported yet with an LCM-distilled U-Net");
        }
        if (customSchedule && steps != null) {
            throw new Main.UserError("--hires-steps and --sigmas/--timesteps: give one (the schedule is the same in both passes)");
        }
        if (tracing) {
            throw new Main.UserError("--trace does not draw the hires fix's two passes yet; leave out --trace or --hires-scale");
        }
        if (interpolating) {
            throw new Main.UserError("--interpolate and --hires-scale cannot be combined yet");
        }
        hires = new HiresFix(scale, strength == null ? DEFAULT_STRENGTH : strength, steps == null ? 0 : steps, mode);
    }

    /** The hires fix asked for, or null. */
    HiresFix hires() {
        return hires;
    }

    private static HiresFix.Upscale byLabel(String label) {
        return Arrays.stream(HiresFix.Upscale.values()).filter(u -> u.label().equals(label.strip().toLowerCase(Locale.ROOT)))
                .findFirst().orElse(null);
    }

    /** The settings as parameters-text fields, under A1111's keys (none without the hires fix). */
    Map<String, String> infotextFields() {
        Map<String, String> f = new LinkedHashMap<>();
        if (hires == null) {
            return f;
        }
        f.put("Denoising strength", plain(hires.strength()));
        f.put("Hires upscale", plain(hires.scale()));
        if (hires.steps() > 0) {
            f.put("Hires steps", Integer.toString(hires.steps()));
        }
        f.put("Hires upscaler", hires.upscale().a1111());
        return f;
    }

    /**
     * --from-png: the hires settings the file holds that the command line does not give (given: whether a flag was
     * given). A1111 writes the hires pass's strength as Denoising strength; its default upscaler is Latent.
     */
    void readFrom(Map<String, String> fields, Predicate<String> given, String file) {
        if (!fields.containsKey("Hires upscale")) {
            return;
        }
        if (!given.test("--hires-scale")) {
            scale = number(file, "Hires upscale", fields.get("Hires upscale"));
        }
        if (!given.test("--hires-strength") && fields.containsKey("Denoising strength")) {
            strength = number(file, "Denoising strength", fields.get("Denoising strength"));
        }
        if (!given.test("--hires-steps") && fields.containsKey("Hires steps")) {
            int n = (int) number(file, "Hires steps", fields.get("Hires steps"));
            steps = n == 0 ? null : n;                                                            // the web UI's 0: the first pass's
        }
        if (!given.test("--hires-upscale") && fields.containsKey("Hires upscaler")) {
            String name = fields.get("Hires upscaler");
            HiresFix.Upscale mode = Arrays.stream(HiresFix.Upscale.values()).filter(u -> u.a1111().equals(name)).findFirst().orElse(null);
            if (mode == null) {
                throw new Main.UserError(file + " was made with the hires upscaler '" + name + "', which ldm4j does not have;"
                        + " choose one with --hires-upscale latent|latent-bicubic|latent-nearest|pixel");
            }
            upscale = mode.label();
        }
    }

    private static double number(String file, String key, String text) {
        try {
            return Double.parseDouble(text.strip());
        } catch (NumberFormatException e) {
            throw new Main.UserError(file + ": " + key + " '" + text + "' is not a number");
        }
    }

    /** 2 rather than 2.0, as the web UI writes a whole scale. */
    private static String plain(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
