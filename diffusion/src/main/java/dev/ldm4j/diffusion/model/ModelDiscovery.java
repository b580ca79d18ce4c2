// Finds out what a model path holds and opens it: a diffusers folder (model_index.json, each
// component's config.json and safetensors weights, scheduler/scheduler_config.json, tokenizer/) or
// an original-layout single file whose architecture is read from its names and shapes. Settings the
// shapes cannot reveal come from --config DIR (a diffusers folder) or, for the published models,
// their standard values. Inpainting models (a 9-channel U-Net) are read like any other, in both layouts.
// Unsupported models (SDXL, single-file LCM checkpoints) and LoRA files (an add-on, not a model: ModelAddons)
// are refused by name. A folder whose U-Net has time_cond_proj_dim (LCM-distilled) is read like any other.
package dev.ldm4j.diffusion.model;

import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.ShardedSafetensors;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;
import dev.ldm4j.weights.keys.MappedWeightSource;
import dev.ldm4j.weights.keys.OriginalLayout;
import dev.ldm4j.weights.lora.LoraFile;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

public final class ModelDiscovery {
    private ModelDiscovery() {
    }

    /**
     * Opens a model.
     *
     * @param model      a diffusers folder or a .safetensors single file
     * @param configDir  a diffusers folder whose configs (and tokenizer) to use, or null
     * @param prediction "eps"/"epsilon" or "v"/"v_prediction" to override the prediction type, or null
     */
    public static StableDiffusionModelSpec discover(Path model, Path configDir, String prediction) {
        String override = prediction == null ? null : predictionType(prediction);
        if (!Files.exists(model)) {
            throw new ModelException(model + ": no such file or directory");
        }
        if (configDir != null && !Files.isDirectory(configDir)) {
            throw new ModelException(configDir + ": the config folder must be a diffusers model folder, and this is not a directory", ModelException.Fix.CONFIG_FOLDER);
        }
        if (Files.isDirectory(model)) {
            if (configDir != null) {
                throw new ModelException(model + ": a config folder is for single-file checkpoints; a diffusers folder carries its own configs", ModelException.Fix.NO_CONFIG_FOLDER);
            }
            return fromFolder(model, override);
        }
        return fromSingleFile(model, configDir, override);
    }

    /** "eps"/"epsilon" -> "epsilon", "v"/"v_prediction" -> "v_prediction". */
    public static String predictionType(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "eps", "epsilon" -> "epsilon";
            case "v", "v_prediction", "v-prediction" -> "v_prediction";
            default -> throw new ModelException("unknown prediction type '" + s + "' (use eps or v)");
        };
    }

    // ---- diffusers folder ----

    private static StableDiffusionModelSpec fromFolder(Path dir, String override) {
        Path index = dir.resolve("model_index.json");
        if (!Files.isRegularFile(index)) {
            throw new ModelException(dir + ": not a model folder (no model_index.json); pass a diffusers folder or a .safetensors checkpoint");
        }
        Map<String, Object> modelIndex = json(index);
        Object pipeline = modelIndex.get("_class_name");
        if (pipeline instanceof String p && p.contains("XL")) {
            throw new ModelException(dir + ": an SDXL pipeline (" + p + "); SDXL is not supported yet");
        }
        Configs configs = readConfigs(dir);
        List<WeightSource> files = new ArrayList<>();
        try {
            WeightSource unet = open(dir.resolve("unet"), "diffusion_pytorch_model", files);
            WeightSource vae = open(dir.resolve("vae"), "diffusion_pytorch_model", files);
            WeightSource text = OriginalLayout.withTextModelPrefix(open(dir.resolve("text_encoder"), "model", files));
            ModelFamily family = familyOf(configs.unet);
            String prediction = override != null ? override : String.valueOf(configs.scheduler.getOrDefault("prediction_type", "epsilon"));
            Path tokenizer = Files.isDirectory(dir.resolve("tokenizer")) ? dir.resolve("tokenizer") : null;
            List<String> ignored = text instanceof MappedWeightSource m ? m.ignored() : List.of();
            return new StableDiffusionModelSpec(dir, ModelLayout.DIFFUSERS_FOLDER, family, configs.unet, configs.vae, configs.text,
                    withPrediction(configs.scheduler, prediction), tokenizer, prediction, "model folder",
                    unet, vae, text, ignored, List.of(), files);
        } catch (RuntimeException e) {
            files.forEach(WeightSource::close);
            throw e;
        }
    }

    private record Configs(UNetConfig unet, VaeConfig vae, ClipTextConfig text, Map<String, Object> scheduler) {
    }

    private static Configs readConfigs(Path dir) {
        Map<String, Object> unetJson = json(dir.resolve("unet").resolve("config.json"));
        if ("text_time".equals(unetJson.get("addition_embed_type"))) {
            throw new ModelException(dir + ": an SDXL U-Net (addition_embed_type text_time); SDXL is not supported yet");
        }
        UNetConfig unet = UNetConfig.fromJson(unetJson);
        VaeConfig vae = VaeConfig.fromJson(json(dir.resolve("vae").resolve("config.json")));
        ClipTextConfig text = ClipTextConfig.fromJson(json(dir.resolve("text_encoder").resolve("config.json")));
        Map<String, Object> scheduler = json(dir.resolve("scheduler").resolve("scheduler_config.json"));
        return new Configs(unet, vae, text, scheduler);
    }

    private static Map<String, Object> json(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new ModelException(file + ": missing (a diffusers folder needs unet/, vae/, text_encoder/ and scheduler/ configs)");
        }
        try {
            return Json.parseObject(file);
        } catch (Json.JsonException e) {
            throw new ModelException(e.getMessage());
        }
    }

    /**
     * A component's weights: stem.safetensors, stem.safetensors.index.json (shards), then the fp16
     * variants stem.fp16.safetensors and stem.fp16.safetensors.index.json.
     */
    private static WeightSource open(Path componentDir, String stem, List<WeightSource> files) {
        for (String variant : new String[] {"", ".fp16"}) {
            Path single = componentDir.resolve(stem + variant + ".safetensors");
            if (Files.isRegularFile(single)) {
                WeightSource s = SafetensorsFile.open(single);
                files.add(s);
                return s;
            }
            Path index = componentDir.resolve(stem + variant + ".safetensors.index.json");
            if (Files.isRegularFile(index)) {
                WeightSource s = ShardedSafetensors.open(index);
                files.add(s);
                return s;
            }
        }
        if (Files.isRegularFile(componentDir.resolve(stem + ".bin"))) {
            throw new ModelException(componentDir.resolve(stem + ".bin") + ": PyTorch pickle weights are not read; convert the folder to .safetensors");
        }
        throw new ModelException(componentDir + ": no " + stem + ".safetensors (nor sharded or .fp16 variant)");
    }

    private static ModelFamily familyOf(UNetConfig unet) {
        return unet.useLinearProjection() || unet.crossAttentionDim() == 1024 ? ModelFamily.SD2 : ModelFamily.SD1;
    }

    private static Map<String, Object> withPrediction(Map<String, Object> scheduler, String prediction) {
        Map<String, Object> m = new LinkedHashMap<>(scheduler);
        m.put("prediction_type", prediction);
        return m;
    }

    // ---- original single file ----

    private static StableDiffusionModelSpec fromSingleFile(Path file, Path configDir, String override) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".ckpt") || name.endsWith(".pt") || name.endsWith(".pth") || name.endsWith(".bin")) {
            throw new ModelException(file + ": PyTorch pickle checkpoints are not read (they can run code); convert it to .safetensors");
        }
        WeightSource src;
        try {
            src = SafetensorsFile.open(file);
        } catch (WeightException e) {
            throw new ModelException(e.getMessage());
        }
        try {
            return fromOriginal(file, src, configDir, override);
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    static StableDiffusionModelSpec fromOriginal(Path file, WeightSource src, Path configDir, String override) {
        if (LoraFile.looksLikeLora(src.names())) {
            throw new ModelException(file + ": a LoRA file (e.g. an LCM-LoRA), not a whole model; load a base model and apply the LoRA to it", ModelException.Fix.LORA_FLAG);
        }
        if (src.info(OriginalLayout.UNET_PREFIX + "time_embed.cond_proj.weight") != null) {
            throw new ModelException(file + ": an LCM-distilled U-Net (" + OriginalLayout.UNET_PREFIX + "time_embed.cond_proj.weight)"
                    + " in a single file is not supported yet; pass the model as a diffusers folder");
        }
        if (!OriginalLayout.isOriginal(src)) {
            boolean diffusersUnet = src.info("conv_in.weight") != null || src.info("down_blocks.0.resnets.0.conv1.weight") != null;
            throw new ModelException(file + ": not a Stable Diffusion checkpoint (no '" + OriginalLayout.UNET_PREFIX + "*' tensors"
                    + (diffusersUnet ? "; it looks like one diffusers component: pass the whole diffusers folder)" : ")"));
        }
        SingleFileArchitecture a = SingleFileArchitecture.infer(src);
        ModelFamily family = a.family();
        UNetConfig unet;
        VaeConfig vae;
        ClipTextConfig text;
        Map<String, Object> scheduler;
        Path tokenizer = null;
        String configSource;
        if (configDir != null) {
            Configs c = readConfigs(configDir);
            checkAgrees(file, configDir, a, c);
            unet = c.unet;
            vae = c.vae;
            text = c.text;
            scheduler = c.scheduler;
            tokenizer = Files.isDirectory(configDir.resolve("tokenizer")) ? configDir.resolve("tokenizer") : null;
            configSource = "config folder " + configDir;
        } else if (a.isStandardSd1() || a.isStandardSd2()) {
            boolean sd2 = family == ModelFamily.SD2;
            // SD 2.x inpainting (512-inpainting-ema) is a 512-pixel epsilon model, as diffusers' stable-diffusion-2-inpainting config says.
            boolean sd2Inpainting = sd2 && a.inChannels() == UNetConfig.INPAINTING_IN_CHANNELS;
            String prediction = override != null ? override : (sd2 && !sd2Inpainting ? "v_prediction" : "epsilon");
            unet = inferredUNet(a, UNetConfig.defaultHeads(a.unetChannels(), sd2), sd2 && prediction.equals("v_prediction") ? 96 : 64);
            vae = VaeConfig.sd();
            text = sd2 ? ClipTextConfig.sd21() : ClipTextConfig.sd15();
            scheduler = withPrediction(standardSchedulerConfig(family), prediction);
            configSource = "standard " + family.label() + " values" + (sd2 && !sd2Inpainting && override == null
                    ? " (v-prediction as the 768 models; epsilon for a 512 base model)" : "");
        } else {
            throw new ModelException(file + ": widths match no standard SD 1.x/2.x model (U-Net " + a.unetChannels() + ", context "
                    + a.contextDim() + ", text width " + a.textWidth() + "); its settings must come from a diffusers folder", ModelException.Fix.CONFIG_FOLDER);
        }
        String prediction = override != null ? override : String.valueOf(scheduler.getOrDefault("prediction_type", "epsilon"));
        if (a.textLayersUsed() < text.numHiddenLayers()) {
            throw new ModelException(file + ": the text encoder has " + a.textBlocks() + " blocks, the config asks for "
                    + text.numHiddenLayers() + (a.openClip() ? " (OpenCLIP files store one block more than SD uses)" : ""));
        }
        MappedWeightSource unetW = OriginalLayout.unet(src, a.structure());
        MappedWeightSource vaeW = OriginalLayout.vae(src, a.vaeChannels().size());
        MappedWeightSource textW = OriginalLayout.textEncoder(src, text.numHiddenLayers());
        List<String> ignored = new ArrayList<>(textW.ignored());
        List<String> unrecognized = new ArrayList<>();
        for (MappedWeightSource m : List.of(unetW, vaeW, textW)) {
            unrecognized.addAll(m.unmapped());
        }
        for (String n : src.names()) {
            if (OriginalLayout.isKnownExtra(n)) {
                ignored.add(n);
            } else if (!n.startsWith(OriginalLayout.UNET_PREFIX) && !n.startsWith(OriginalLayout.VAE_PREFIX)
                    && !n.startsWith(OriginalLayout.CLIP_PREFIX) && !n.startsWith(OriginalLayout.OPENCLIP_PREFIX)) {
                unrecognized.add(n);
            }
        }
        return new StableDiffusionModelSpec(file, ModelLayout.ORIGINAL_SINGLE_FILE, family, unet, vae, text,
                withPrediction(scheduler, prediction), tokenizer, prediction, configSource, unetW, vaeW, textW,
                ignored, unrecognized, List.of(src));
    }

    /**
     * Whether model is a diffusers folder whose U-Net takes the embedded guidance scale (unet/config.json has
     * time_cond_proj_dim: an LCM-distilled model), read before loading so that defaults and flags can follow
     * it; false for a single file and for a folder without a readable U-Net config (loading then says why).
     */
    public static boolean hasGuidanceEmbedding(Path model) {
        Path config = model.resolve("unet").resolve("config.json");
        if (!Files.isDirectory(model) || !Files.isRegularFile(config)) {
            return false;
        }
        try {
            return Json.parseObject(config).get("time_cond_proj_dim") != null;
        } catch (RuntimeException unreadable) {
            return false;
        }
    }

    /** A UNetConfig from the inferred structure with the given head counts. */
    private static UNetConfig inferredUNet(SingleFileArchitecture a, List<Integer> heads, int sampleSize) {
        int n = a.unetChannels().size();
        List<String> down = new ArrayList<>();
        List<String> up = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            down.add(a.structure().downHasAttention(i) ? "CrossAttnDownBlock2D" : "DownBlock2D");
            up.add(a.structure().upHasAttention(i) ? "CrossAttnUpBlock2D" : "UpBlock2D");
        }
        return new UNetConfig(sampleSize, a.inChannels(), a.outChannels(), true, 0, down, "UNetMidBlock2DCrossAttn", up,
                a.unetChannels(), java.util.Collections.nCopies(n, a.structure().layersPerBlock()), 1, 1.0, 32, 1e-5,
                a.contextDim(), a.transformerDepth(), heads, null, a.linearProjection(), false, null);
    }

    /** Refuses a --config whose component settings disagree with the checkpoint's shapes, naming the setting. */
    private static void checkAgrees(Path file, Path configDir, SingleFileArchitecture a, Configs c) {
        List<String> bad = new ArrayList<>();
        UNetConfig u = c.unet;
        if (!u.blockOutChannels().equals(a.unetChannels())) {
            bad.add("unet block_out_channels " + u.blockOutChannels() + " vs " + a.unetChannels());
        }
        if (u.layersPerBlock().stream().anyMatch(l -> l != a.structure().layersPerBlock())) {
            bad.add("unet layers_per_block " + u.layersPerBlock() + " vs " + a.structure().layersPerBlock());
        }
        for (int i = 0; i < Math.min(u.blocks(), a.structure().levels()); i++) {
            if (u.downBlockTypes().get(i).startsWith("CrossAttn") != a.structure().downHasAttention(i)) {
                bad.add("unet down_block_types[" + i + "] " + u.downBlockTypes().get(i));
            }
        }
        if (u.crossAttentionDim() != a.contextDim()) {
            bad.add("unet cross_attention_dim " + u.crossAttentionDim() + " vs " + a.contextDim());
        }
        if (u.useLinearProjection() != a.linearProjection()) {
            bad.add("unet use_linear_projection " + u.useLinearProjection() + " vs " + a.linearProjection());
        }
        if (u.inChannels() != a.inChannels()) {
            bad.add("unet in_channels " + u.inChannels() + " vs " + a.inChannels());
        }
        if (!c.vae.blockOutChannels().equals(a.vaeChannels())) {
            bad.add("vae block_out_channels " + c.vae.blockOutChannels() + " vs " + a.vaeChannels());
        }
        if (c.vae.layersPerBlock() != a.vaeLayersPerBlock()) {
            bad.add("vae layers_per_block " + c.vae.layersPerBlock() + " vs " + a.vaeLayersPerBlock());
        }
        if (c.text.hiddenSize() != a.textWidth()) {
            bad.add("text_encoder hidden_size " + c.text.hiddenSize() + " vs " + a.textWidth());
        }
        if (c.text.intermediateSize() != a.textIntermediate()) {
            bad.add("text_encoder intermediate_size " + c.text.intermediateSize() + " vs " + a.textIntermediate());
        }
        if (!bad.isEmpty()) {
            throw new ModelException(configDir + ": the config folder does not match " + file.getFileName() + " (config vs checkpoint): " + String.join("; ", bad), ModelException.Fix.CONFIG_FOLDER);
        }
    }

    /** The reference scheduler config of SD 1.5 (PNDM) or SD 2.1 (DDIM) shipped as a resource. */
    public static Map<String, Object> standardSchedulerConfig(ModelFamily family) {
        String resource = family == ModelFamily.SD1 ? "sd15-scheduler_config.json" : "sd21-scheduler_config.json";
        try (InputStream in = ModelDiscovery.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + resource);
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) Json.parse(in.readAllBytes());
            return m;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read resource " + resource, e);
        }
    }
}
