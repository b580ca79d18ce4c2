// A model folder's own generation defaults: ldm4j_defaults.json beside model_index.json, with the sampler,
// step count, guidance scale and size that give the model's best image (a bare `generate --prompt` uses them;
// every flag still overrides). diffusers ignores the file. Keys: "scheduler" (a Schedulers name),
// "karras" (boolean), "steps", "guidance", "width", "height".
package dev.ldm4j.diffusion.model;

import dev.ldm4j.weights.Json;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

public final class GenerationDefaults {
    public static final String NAME = "ldm4j_defaults.json";

    private GenerationDefaults() {
    }

    /** The folder's defaults, or an empty map when it has none (or model is a single file). */
    public static Map<String, Object> of(Path model) {
        Path f = model.resolve(NAME);
        return Files.isDirectory(model) && Files.isRegularFile(f) ? Json.parseObject(f) : Map.of();
    }

    /** The scheduler a run asks for by name (null: the model's default) and whether with Karras sigmas. */
    public record SchedulerChoice(String name, boolean karras) {
    }

    /**
     * The scheduler name a run asks for: the one given (name, or karras alone), else the folder's "scheduler"
     * and "karras", else none (name null: StableDiffusionPipeline.scheduler uses the model's default).
     */
    public static SchedulerChoice scheduler(Map<String, Object> d, String name, boolean karras) {
        if (name == null && !karras && d != null && d.get("scheduler") instanceof String s) {
            return new SchedulerChoice(s, booleanValue(d, "karras", false));
        }
        return new SchedulerChoice(name, karras);
    }

    /**
     * The step count a run uses: the one asked for, else the folder's, else diffusers' pipeline default (4 for a
     * LatentConsistencyModelPipeline, an LCM U-Net with a guidance embedding; 50 otherwise).
     */
    public static int steps(Map<String, Object> d, Integer asked, boolean latentConsistency) {
        return asked != null ? asked : intValue(d, "steps", latentConsistency ? 4 : 50);
    }

    /** The guidance scale a run uses, the same way: asked, else the folder's, else 8.5 (LCM) or 7.5. */
    public static double guidance(Map<String, Object> d, Double asked, boolean latentConsistency) {
        return asked != null ? asked : doubleValue(d, "guidance", latentConsistency ? 8.5 : 7.5);
    }

    public static int intValue(Map<String, Object> d, String key, int fallback) {
        return d != null && d.get(key) instanceof Number n ? n.intValue() : fallback;
    }

    public static double doubleValue(Map<String, Object> d, String key, double fallback) {
        return d != null && d.get(key) instanceof Number n ? n.doubleValue() : fallback;
    }

    public static String stringValue(Map<String, Object> d, String key, String fallback) {
        return d != null && d.get(key) instanceof String s ? s : fallback;
    }

    public static boolean booleanValue(Map<String, Object> d, String key, boolean fallback) {
        return d != null && d.get(key) instanceof Boolean b ? b : fallback;
    }
}
