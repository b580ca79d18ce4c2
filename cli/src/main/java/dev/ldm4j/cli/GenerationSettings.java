// The settings that decide one generated image, as `generate` writes them into its PNG and reads them
// back for --from-png. The text is A1111's (Infotext): its keys where the web UI has one (Steps, Sampler,
// Schedule type, CFG scale, Seed, Size, Model hash, Model, Denoising strength, Clip skip, RNG), then
// ldm4j's own for what it lacks:
//   Scheduler             our scheduler name, or the model's own scheduler class (exact, unlike Sampler)
//   Scheduler option K    each --scheduler-option K=V
//   Noise dtype           float64 when the draws were float64 (absent: float32)
//   Prompt style          diffusers or a1111 (absent, as in the web UI's files: a1111)
//   Prediction            --prediction when given
//   Batch, Batch index    with --batch N > 1: N, and which image of the batch this is
//   Device, Dtype, VAE dtype   where and in what precision it ran, when not the CPU's fp32
// Read back, an absent key means what it means to the web UI: RNG absent is the GPU's generator
// (--generator cuda), Clip skip absent is 1 (the last layer), Schedule type absent is Automatic.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.schedulers.Schedulers;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fields read from a file are null where the file does not say.
 *
 * @param scheduler        our scheduler name, or null for the model's own
 * @param schedulerClass   the model's own scheduler class when scheduler is null (written as Scheduler), else null
 * @param samplerProblem   read from the web UI's file: why its sampler cannot be used here, else null
 * @param clipSkip         ours: 0 = the last layer (the web UI's "Clip skip: 1")
 * @param strength         image-to-image strength, null for text-to-image
 * @param batchSize        images drawn together (1 = none)
 * @param batchIndex       which of them this is
 * @param loras            the LoRA files applied, "name:scale, ..." (ldm4j's key LoRA), or null
 * @param embeddings       the embeddings loaded, "name[:token], ..." (ldm4j's key Embeddings), or null
 * @param ignored          keys of the file that ldm4j has no setting for
 */
record GenerationSettings(
        String prompt,
        String negativePrompt,
        Integer steps,
        Double guidance,
        String scheduler,
        boolean karras,
        String schedulerClass,
        String samplerProblem,
        Map<String, String> schedulerOptions,
        Long seed,
        Integer width,
        Integer height,
        String noiseDtype,
        String generator,
        Integer clipSkip,
        String promptStyle,
        Double strength,
        String prediction,
        String device,
        String dtype,
        String vaeDtype,
        int batchSize,
        int batchIndex,
        String modelName,
        String modelHash,
        String loras,
        String embeddings,
        List<String> ignored) {

    static final String KEY = "parameters";
    private static final String OPTION = "Scheduler option ";

    GenerationSettings {
        schedulerOptions = Collections.unmodifiableMap(new LinkedHashMap<>(schedulerOptions));
        ignored = List.copyOf(ignored);
    }

    /** The text written into the PNG's "parameters" chunk. */
    Infotext toInfotext(String version) {
        Map<String, String> f = new LinkedHashMap<>();
        String sampler = scheduler != null ? scheduler : schedulerClass;
        f.put("Steps", Integer.toString(steps));
        f.put("Sampler", A1111Samplers.a1111Name(sampler));
        String scheduleType = A1111Samplers.scheduleType(sampler, karras);
        if (scheduleType != null) {
            f.put("Schedule type", scheduleType);
        }
        f.put("CFG scale", Double.toString(guidance));
        f.put("Seed", Long.toString(seed));
        f.put("Size", width + "x" + height);
        f.put("Model hash", modelHash);
        f.put("Model", modelName);
        if (strength != null) {
            f.put("Denoising strength", Double.toString(strength));
        }
        if (clipSkip > 0) {
            f.put("Clip skip", Integer.toString(clipSkip + 1));
        }
        if (generator.equals("cpu")) {
            f.put("RNG", "CPU");
        }
        f.put("Scheduler", sampler);
        schedulerOptions.forEach((k, v) -> f.put(OPTION + k, v));
        if ("float64".equals(noiseDtype)) {
            f.put("Noise dtype", noiseDtype);
        }
        f.put("Prompt style", promptStyle);
        if (prediction != null) {
            f.put("Prediction", prediction);
        }
        if (batchSize > 1) {
            f.put("Batch", Integer.toString(batchSize));
            f.put("Batch index", Integer.toString(batchIndex));
        }
        if (!device.equals("cpu")) {
            f.put("Device", device);
        }
        if (dtype != null) {
            f.put("Dtype", dtype);
        }
        if (vaeDtype != null) {
            f.put("VAE dtype", vaeDtype);
        }
        if (loras != null) {
            f.put("LoRA", loras);
        }
        if (embeddings != null) {
            f.put("Embeddings", embeddings);
        }
        f.put("Version", version);
        return new Infotext(prompt, negativePrompt, f);
    }

    /**
     * The settings a parameters text holds, ldm4j's or the web UI's; file names the PNG in messages.
     *
     * @throws Main.UserError for a value that is not what its key needs (Steps that is not a number, ...)
     */
    static GenerationSettings fromInfotext(Infotext text, String file) {
        Map<String, String> f = new LinkedHashMap<>(text.fields());
        Reader r = new Reader(f, file);
        Integer steps = r.integer("Steps");
        Double guidance = r.number("CFG scale");
        Long seed = r.whole("Seed");
        Integer width = null;
        Integer height = null;
        String size = f.remove("Size");
        if (size != null) {
            String[] wh = size.split("x", -1);
            if (wh.length != 2 || !wh[0].matches("\\d{1,6}") || !wh[1].matches("\\d{1,6}")) {
                throw new Main.UserError(file + ": Size '" + size + "' is not WIDTHxHEIGHT");
            }
            width = Integer.parseInt(wh[0]);
            height = Integer.parseInt(wh[1]);
        }
        String modelHash = f.remove("Model hash");
        String modelName = f.remove("Model");

        String ours = f.remove("Scheduler");
        String sampler = f.remove("Sampler");
        String scheduleType = f.remove("Schedule type");
        String scheduler = null;
        String schedulerClass = null;
        String samplerProblem = null;
        boolean karras = false;
        if (ours != null) {
            if (Schedulers.names().contains(ours)) {
                scheduler = ours;
                karras = "Karras".equals(scheduleType);
            } else {
                schedulerClass = ours;
            }
        } else if (sampler != null) {
            try {
                A1111Samplers.Choice c = A1111Samplers.read(sampler, scheduleType);
                scheduler = c.scheduler();
                karras = c.karras();
            } catch (Main.UserError e) {
                samplerProblem = e.getMessage();
            }
        }
        Map<String, String> options = new LinkedHashMap<>();
        for (String k : List.copyOf(f.keySet())) {
            if (k.startsWith(OPTION)) {
                options.put(k.substring(OPTION.length()), f.remove(k));
            }
        }

        // The web UI writes the hires pass's denoising strength under the same key as image-to-image's.
        boolean hires = f.keySet().stream().anyMatch(k -> k.startsWith("Hires ") || k.equals("First pass size"));
        Double strength = hires ? null : r.number("Denoising strength");
        Integer clipSkip = null;
        Integer webUiClipSkip = r.integer("Clip skip");
        if (webUiClipSkip != null) {
            if (webUiClipSkip < 1) {
                throw new Main.UserError(file + ": Clip skip " + webUiClipSkip + " is below 1 (1 = the last layer)");
            }
            clipSkip = webUiClipSkip - 1;
        }
        String rng = f.remove("RNG");
        String generator;
        if (rng == null || rng.equals("GPU") || rng.equals("NV")) {
            generator = "cuda";    // NV: the web UI's CPU copy of the GPU's Philox generator
        } else if (rng.equals("CPU")) {
            generator = "cpu";
        } else {
            throw new Main.UserError(file + ": RNG '" + rng + "' is not GPU, CPU or NV");
        }
        String promptStyle = f.remove("Prompt style");
        promptStyle = promptStyle == null ? "a1111" : promptStyle;
        Integer batchSize = r.integer("Batch");
        Integer batchIndex = r.integer("Batch index");
        int n = batchSize == null ? 1 : batchSize;
        int index = batchIndex == null ? 0 : batchIndex;
        if (n < 1 || index < 0 || index >= n) {
            throw new Main.UserError(file + ": Batch index " + index + " of a batch of " + n + " is not an image of that batch");
        }
        f.remove("Version");
        return new GenerationSettings(text.prompt(), text.negativePrompt(), steps, guidance, scheduler, karras, schedulerClass,
                samplerProblem, options, seed, width, height, f.remove("Noise dtype"), generator, clipSkip, promptStyle, strength,
                f.remove("Prediction"), f.remove("Device"), f.remove("Dtype"), f.remove("VAE dtype"), n, index, modelName, modelHash,
                f.remove("LoRA"), f.remove("Embeddings"), new ArrayList<>(f.keySet()));
    }

    /** Takes typed values out of the fields, naming the file and key when one is not a number. */
    private record Reader(Map<String, String> fields, String file) {
        Integer integer(String key) {
            String v = fields.remove(key);
            if (v == null) {
                return null;
            }
            try {
                return Integer.parseInt(v.strip());
            } catch (NumberFormatException e) {
                throw new Main.UserError(file + ": " + key + " '" + v + "' is not a whole number");
            }
        }

        Long whole(String key) {
            String v = fields.remove(key);
            if (v == null) {
                return null;
            }
            try {
                return Long.parseLong(v.strip());
            } catch (NumberFormatException e) {
                throw new Main.UserError(file + ": " + key + " '" + v + "' is not a whole number");
            }
        }

        Double number(String key) {
            String v = fields.remove(key);
            if (v == null) {
                return null;
            }
            try {
                double d = Double.parseDouble(v.strip());
                if (!Double.isFinite(d)) {
                    throw new NumberFormatException();
                }
                return d;
            } catch (NumberFormatException e) {
                throw new Main.UserError(file + ": " + key + " '" + v + "' is not a number");
            }
        }
    }
}
