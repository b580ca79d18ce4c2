// Writes what training makes as a diffusers model folder: model_index.json, one subfolder per component with
// its config.json (diffusers / transformers keys) and safetensors weights under the names from_pretrained
// expects, the tokenizer files and the scheduler config. ./ldm4j generate --model DIR reads it back, and so
// does diffusers' StableDiffusionPipeline.from_pretrained(DIR). Files are written next to their final name and
// moved into place, so an interrupted save never leaves a half-written weight file.
package dev.ldm4j.train;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.JsonWriter;
import dev.ldm4j.weights.SafetensorsWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class DiffusersFolder {
    private DiffusersFolder() {
    }

    /** The diffusers version whose keys the configs follow. */
    public static final String DIFFUSERS_VERSION = "0.31.0";

    /** model_index.json of a StableDiffusionPipeline with the given scheduler class. */
    public static void writeModelIndex(Path dir, String schedulerClass) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("_class_name", "StableDiffusionPipeline");
        m.put("_diffusers_version", DIFFUSERS_VERSION);
        m.put("feature_extractor", nulls());
        m.put("requires_safety_checker", false);
        m.put("safety_checker", nulls());
        m.put("scheduler", List.of("diffusers", schedulerClass));
        m.put("text_encoder", List.of("transformers", "CLIPTextModel"));
        m.put("tokenizer", List.of("transformers", "CLIPTokenizer"));
        m.put("unet", List.of("diffusers", "UNet2DConditionModel"));
        m.put("vae", List.of("diffusers", "AutoencoderKL"));
        writeJson(dir.resolve("model_index.json"), m);
    }

    private static List<Object> nulls() {
        java.util.ArrayList<Object> l = new java.util.ArrayList<>();
        l.add(null);
        l.add(null);
        return l;
    }

    /**
     * One diffusers component (unet/, vae/): config.json with _class_name first, then
     * diffusion_pytorch_model.safetensors in dtype (F16 for a shipped model, F32 while training).
     */
    public static void writeComponent(Path dir, String className, Map<String, Object> config, Map<String, Tensor> weights, DType dtype) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("_class_name", className);
        c.put("_diffusers_version", DIFFUSERS_VERSION);
        config.forEach((k, v) -> {
            if (!k.startsWith("_")) {
                c.put(k, v);
            }
        });
        writeJson(dir.resolve("config.json"), c);
        writeWeights(dir.resolve("diffusion_pytorch_model.safetensors"), weights, dtype);
    }

    /** text_encoder/: a transformers CLIPTextModel config and model.safetensors (text_model.* keys). */
    public static void writeTextEncoder(Path dir, Map<String, Object> config, Map<String, Tensor> weights, DType dtype) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("CLIPTextModel"));
        c.put("model_type", "clip_text_model");
        config.forEach((k, v) -> {
            if (!k.startsWith("_") && !k.equals("architectures") && !k.equals("model_type")) {
                c.put(k, v);
            }
        });
        writeJson(dir.resolve("config.json"), c);
        writeWeights(dir.resolve("model.safetensors"), weights, dtype);
    }

    /** scheduler/scheduler_config.json. */
    public static void writeScheduler(Path dir, String className, Map<String, Object> config) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("_class_name", className);
        c.put("_diffusers_version", DIFFUSERS_VERSION);
        config.forEach((k, v) -> {
            if (!k.startsWith("_")) {
                c.put(k, v);
            }
        });
        writeJson(dir.resolve("scheduler_config.json"), c);
    }

    public static void writeJson(Path file, Object value) {
        writeAtomically(file, tmp -> Files.writeString(tmp, JsonWriter.pretty(value)));
    }

    public static void writeWeights(Path file, Map<String, Tensor> weights, DType dtype) {
        writeAtomically(file, tmp -> SafetensorsWriter.write(tmp, weights, Map.of("format", "pt"), dtype, true));
    }

    @FunctionalInterface
    interface Writer {
        void write(Path tmp) throws IOException;
    }

    /** Writes through a temporary file beside file, then moves it over file. */
    static void writeAtomically(Path file, Writer writer) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            writer.write(tmp);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot write: " + e.getMessage(), e);
        }
    }
}
