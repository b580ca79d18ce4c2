// Everything needed to build a Stable Diffusion model, before any model is built: layout, family,
// the three component configs, the scheduler config, the tokenizer folder, the prediction type, and
// one WeightSource per component presenting diffusers names (with LoRA and embeddings applied when
// asked: ModelAddons), and the tokens embeddings add. Closing it closes the files.
package dev.ldm4j.diffusion.model;

import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.tokenizer.AddedToken;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.weights.WeightSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * @param path              the model folder or checkpoint file
 * @param layout            diffusers folder or original single file
 * @param family            SD 1.x or SD 2.x
 * @param schedulerConfig   scheduler_config.json as a map (prediction_type set to predictionType)
 * @param tokenizer         the tokenizer folder (vocab.json + merges.txt, or tokenizer.json), or null
 * @param predictionType    "epsilon" or "v_prediction"
 * @param configSource      where settings came from ("model folder", "--config DIR", "standard SD 1.x values")
 * @param ignored           checkpoint entries known not to be model weights (schedule buffers, unused OpenCLIP block, ...)
 * @param unrecognized      checkpoint entries that belong to no component
 * @param files             the opened files (and the overlays of LoRA and embeddings), closed by close()
 * @param addedTokens       tokens of textual-inversion embeddings, for the tokenizer (their rows are in the text encoder's table)
 */
public record StableDiffusionModelSpec(
        Path path,
        ModelLayout layout,
        ModelFamily family,
        UNetConfig unet,
        VaeConfig vae,
        ClipTextConfig textEncoder,
        Map<String, Object> schedulerConfig,
        Path tokenizer,
        String predictionType,
        String configSource,
        WeightSource unetWeights,
        WeightSource vaeWeights,
        WeightSource textEncoderWeights,
        List<String> ignored,
        List<String> unrecognized,
        List<WeightSource> files,
        List<AddedToken> addedTokens) implements AutoCloseable {

    public StableDiffusionModelSpec {
        schedulerConfig = Map.copyOf(nullFree(schedulerConfig));
        ignored = List.copyOf(ignored);
        unrecognized = List.copyOf(unrecognized);
        files = List.copyOf(files);
        addedTokens = List.copyOf(addedTokens);
    }

    /** A model as found on disk, with no added tokens. */
    public StableDiffusionModelSpec(Path path, ModelLayout layout, ModelFamily family, UNetConfig unet, VaeConfig vae,
                                    ClipTextConfig textEncoder, Map<String, Object> schedulerConfig, Path tokenizer,
                                    String predictionType, String configSource, WeightSource unetWeights, WeightSource vaeWeights,
                                    WeightSource textEncoderWeights, List<String> ignored, List<String> unrecognized,
                                    List<WeightSource> files) {
        this(path, layout, family, unet, vae, textEncoder, schedulerConfig, tokenizer, predictionType, configSource, unetWeights,
                vaeWeights, textEncoderWeights, ignored, unrecognized, files, List.of());
    }

    private static Map<String, Object> nullFree(Map<String, Object> m) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        m.forEach((k, v) -> {
            if (v != null) {
                out.put(k, v);
            }
        });
        return out;
    }

    /** The same model with its tokenizer taken from another folder or file. */
    public StableDiffusionModelSpec withTokenizer(Path tokenizerPath) {
        return new StableDiffusionModelSpec(path, layout, family, unet, vae, textEncoder, schedulerConfig, tokenizerPath,
                predictionType, configSource, unetWeights, vaeWeights, textEncoderWeights, ignored, unrecognized, files, addedTokens);
    }

    /**
     * The same model with other U-Net and text-encoder weights (overlays of these, made by LoRA or
     * embeddings), the text encoder's config and tokens added; the new sources join the files closed by close().
     */
    public StableDiffusionModelSpec withWeights(WeightSource newUnet, WeightSource newText, ClipTextConfig newTextConfig,
                                                List<AddedToken> tokens, List<WeightSource> created) {
        List<WeightSource> all = new java.util.ArrayList<>(created);
        all.addAll(files);
        List<AddedToken> allTokens = new java.util.ArrayList<>(addedTokens);
        allTokens.addAll(tokens);
        return new StableDiffusionModelSpec(path, layout, family, unet, vae, newTextConfig, schedulerConfig, tokenizer,
                predictionType, configSource, newUnet, vaeWeights, newText, ignored, unrecognized, all, allTokens);
    }

    @Override
    public void close() {
        for (WeightSource f : files) {
            f.close();
        }
    }
}
