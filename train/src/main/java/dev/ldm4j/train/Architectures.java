// Where a model to train comes from: a new one from an architecture (diffusers config keys per component,
// the built-in shapes architecture by default), or an existing diffusers folder to fine-tune; the frozen VAE
// always from a folder. A new model's tokenizer is a byte-level BPE vocabulary learned from the dataset's
// own captions (BpeTrainer), and its text encoder's vocabulary size and special ids follow from it.
package dev.ldm4j.train;

import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.train.data.CaptionedImageDataset;
import dev.ldm4j.train.text.BpeTrainer;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

public final class Architectures {
    /** Prompts of the samples grid when training on shapes: every color, shape, size, a relation, and a held-out pair. */
    public static final List<String> SHAPES_SAMPLE_PROMPTS = List.of(
            "a large red circle in the top left on a white background",
            "a small blue square in the center on a black background",
            "a large yellow triangle at the bottom on a gray background",
            "a small green circle on the right",
            "a large orange square in the bottom left",
            "a purple circle at the top",
            "a red triangle to the left of a blue circle",
            "a purple triangle in the center on a white background");

    private static final Pattern WORD = Pattern.compile("[a-z]+");

    private Architectures() {
    }

    /** The built-in shapes architecture (train/src/main/resources/dev/ldm4j/train/shapes-arch.json). */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> shapes() {
        try (InputStream in = Architectures.class.getResourceAsStream("shapes-arch.json")) {
            return (Map<String, Object>) Json.parse(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Word counts of 20,000 of the dataset's captions, the corpus of a new tokenizer. */
    public static Map<String, Integer> captionWords(CaptionedImageDataset data) {
        Map<String, Integer> counts = new TreeMap<>();
        long n = Math.min(20_000, data.size());
        for (long i = 0; i < n; i++) {
            var m = WORD.matcher(data.get(i).caption().toLowerCase(java.util.Locale.ROOT));
            while (m.find()) {
                counts.merge(m.group(), 1, Integer::sum);
            }
        }
        return counts;
    }

    /**
     * A new U-Net and text encoder from arch, the frozen VAE from vaeDir/vae, a tokenizer learned from data's captions.
     * predictionType replaces the scheduler section's prediction_type; null keeps it.
     */
    @SuppressWarnings("unchecked")
    public static UNetTraining.Parts fresh(Map<String, Object> arch, Path vaeDir, CaptionedImageDataset data, long seed, String predictionType) {
        BpeTrainer.Vocabulary vocab = BpeTrainer.train(captionWords(data));
        int v = vocab.vocab().size();
        Map<String, Object> text = new LinkedHashMap<>(section(arch, "text_encoder"));
        text.put("vocab_size", v);
        text.put("bos_token_id", v - 2);
        text.put("eos_token_id", v - 1);
        text.put("pad_token_id", v - 1);
        Map<String, Object> unet = new LinkedHashMap<>(section(arch, "unet"));
        Map<String, Object> sched = section(arch, "scheduler");
        Map<String, Object> schedConfig = new LinkedHashMap<>((Map<String, Object>) sched.get("config"));
        if (predictionType != null) {
            schedConfig.put("prediction_type", predictionType);
        }
        Map<String, Object> vaeConfig = Json.parseObject(vaeDir.resolve("vae/config.json"));
        TrainableWeights vae;
        try (SafetensorsFile f = SafetensorsFile.open(vaeDir.resolve("vae/diffusion_pytorch_model.safetensors"))) {
            vae = TrainableWeights.copyOf(f);
        }
        return new UNetTraining.Parts(unet, ModelInit.unet(UNetConfig.fromJson(unet), seed),
                text, ModelInit.textEncoder(ClipTextConfig.fromJson(text), seed + 1),
                vaeConfig, vae, schedConfig, (String) sched.get("class"), vocab,
                arch.get("defaults") instanceof Map<?, ?> d ? (Map<String, Object>) d : null);
    }

    /** The parts of an existing diffusers folder (to fine-tune), with the VAE from vaeDir. */
    public static UNetTraining.Parts load(Path model, Path vaeDir) {
        Map<String, Object> unetConfig = Json.parseObject(model.resolve("unet/config.json"));
        Map<String, Object> textConfig = Json.parseObject(model.resolve("text_encoder/config.json"));
        Map<String, Object> sched = Json.parseObject(model.resolve("scheduler/scheduler_config.json"));
        Map<String, Object> vaeConfig = Json.parseObject(vaeDir.resolve("vae/config.json"));
        TrainableWeights unet, text, vae;
        try (SafetensorsFile f = SafetensorsFile.open(model.resolve("unet/diffusion_pytorch_model.safetensors"));
             SafetensorsFile t = SafetensorsFile.open(model.resolve("text_encoder/model.safetensors"));
             SafetensorsFile a = SafetensorsFile.open(vaeDir.resolve("vae/diffusion_pytorch_model.safetensors"))) {
            unet = TrainableWeights.copyOf(f);
            text = TrainableWeights.copyOf(t);
            vae = TrainableWeights.copyOf(a);
        }
        BpeTrainer.Vocabulary vocab = BpeTrainer.Vocabulary.read(model.resolve("tokenizer"));
        Map<String, Object> defaults = Files.isRegularFile(model.resolve(dev.ldm4j.diffusion.model.GenerationDefaults.NAME))
                ? dev.ldm4j.diffusion.model.GenerationDefaults.of(model) : null;
        return new UNetTraining.Parts(unetConfig, unet, textConfig, text, vaeConfig, vae, sched,
                String.valueOf(sched.getOrDefault("_class_name", "DDIMScheduler")), vocab, defaults);
    }

    /** One component's section of an architecture ("vae", "unet", "text_encoder", "scheduler"). */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> section(Map<String, Object> arch, String name) {
        Object o = arch.get(name);
        if (!(o instanceof Map)) {
            throw new IllegalArgumentException("architecture: no \"" + name + "\" section");
        }
        return (Map<String, Object>) o;
    }
}
