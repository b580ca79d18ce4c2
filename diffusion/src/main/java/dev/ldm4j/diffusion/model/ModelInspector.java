// The report of `ldm4j inspect --model PATH [--config DIR]`: detected layout and architecture, where
// the settings came from, each component's parameter count and dtypes, and what is missing, unused,
// set aside or unrecognized, found by building the models over the weights on the CPU backend
// (weights are memory-mapped views, so nothing is computed or copied).
package dev.ldm4j.diffusion.model;

import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.clip.ClipTextTransformer;
import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;

public final class ModelInspector {
    private ModelInspector() {
    }

    /** The report for a model path and optional config folder; throws ModelException (one line) on bad input. */
    public static String inspect(Path model, Path configDir) {
        return inspect(model, configDir, null);
    }

    /** As inspect(model, configDir), with a prediction-type override ("eps" or "v"), or null. */
    public static String inspect(Path model, Path configDir, String prediction) {
        try (StableDiffusionModelSpec spec = ModelDiscovery.discover(model, configDir, prediction)) {
            return report(spec);
        }
    }

    static String report(StableDiffusionModelSpec spec) {
        StringBuilder out = new StringBuilder();
        line(out, "Model:        " + spec.path());
        line(out, "Layout:       " + spec.layout().label());
        line(out, "Architecture: " + spec.family().label());
        line(out, "Settings:     " + spec.configSource());
        line(out, "Prediction:   " + spec.predictionType() + ", scheduler " + spec.schedulerConfig().getOrDefault("_class_name", "(unnamed)"));
        line(out, "Tokenizer:    " + (spec.tokenizer() == null ? "none in the checkpoint (pass --tokenizer PATH, or --config DIR with a tokenizer/ folder)" : spec.tokenizer()));
        line(out, "");
        line(out, "U-Net:        " + describe(spec.unet()));
        line(out, "VAE:          " + describe(spec.vae()));
        line(out, "Text encoder: " + describe(spec.textEncoder(), spec.family()));
        line(out, "");
        line(out, "Components:");
        component(out, "text_encoder", spec.textEncoderWeights());
        component(out, "unet", spec.unetWeights());
        component(out, "vae", spec.vaeWeights());
        line(out, "");
        List<String> problems = loadCheck(spec);
        if (problems.isEmpty()) {
            line(out, "Weights:      every tensor present with the expected shape and used by a model");
        } else {
            line(out, "Weights:      " + problems.size() + " problem(s)");
            problems.forEach(p -> line(out, "  " + p));
        }
        line(out, "Set aside:    " + list(spec.ignored()) + " (not model weights)");
        line(out, "Unrecognized: " + list(spec.unrecognized()));
        return out.toString();
    }

    private static String describe(UNetConfig u) {
        List<Integer> attention = new ArrayList<>();
        for (int i = 0; i < u.blocks(); i++) {
            if (u.downBlockTypes().get(i).startsWith("CrossAttn")) {
                attention.add(i);
            }
        }
        List<Integer> heads = new ArrayList<>();
        for (int i = 0; i < u.blocks(); i++) {
            heads.add(u.headsPerBlock(i));
        }
        return "channels " + join(u.blockOutChannels()) + ", " + u.layersPerBlock().get(0) + " resnets per level, attention at levels "
                + attention + ", heads " + heads + ", context " + u.crossAttentionDim() + ", "
                + (u.useLinearProjection() ? "linear" : "conv") + " proj_in, transformer depth " + u.transformerLayersPerBlock()
                + ", " + u.inChannels() + " input channels"
                + (u.hasGuidanceEmbedding() ? ", guidance embedding of width " + u.timeCondProjDim() + " (LCM-distilled)" : "");
    }

    private static String describe(VaeConfig v) {
        return "channels " + join(v.blockOutChannels()) + ", " + v.layersPerBlock() + " resnets per level, "
                + v.latentChannels() + " latent channels, scaling factor " + v.scalingFactor();
    }

    private static String describe(ClipTextConfig c, ModelFamily family) {
        return (family == ModelFamily.SD2 ? "OpenCLIP" : "CLIP") + ", " + c.numHiddenLayers() + " layers of width " + c.hiddenSize()
                + ", " + c.numAttentionHeads() + " heads, MLP " + c.intermediateSize() + ", " + c.hiddenAct();
    }

    private static String join(List<Integer> xs) {
        return xs.stream().map(String::valueOf).collect(Collectors.joining("-"));
    }

    private static void component(StringBuilder out, String name, WeightSource w) {
        long params = 0;
        Map<DType, Integer> dtypes = new EnumMap<>(DType.class);
        for (String n : w.names()) {
            TensorInfo i = w.info(n);
            params += i.numel();
            dtypes.merge(i.dtype(), 1, Integer::sum);
        }
        String types = dtypes.entrySet().stream().map(e -> e.getKey() + " x" + e.getValue()).collect(Collectors.joining(", "));
        line(out, String.format("  %-13s %,15d parameters in %4d tensors (%s)", name, params, w.names().size(), types));
    }

    /** Builds each model over its weights on the CPU backend; lists what is missing, mis-shaped or unused. */
    private static List<String> loadCheck(StableDiffusionModelSpec spec) {
        List<String> problems = new ArrayList<>();
        try (Backend cpu = Backends.create("cpu")) {
            check(problems, "text_encoder", Params.root(spec.textEncoderWeights(), cpu), p -> new ClipTextTransformer(p, spec.textEncoder()));
            check(problems, "unet", Params.root(spec.unetWeights(), cpu), p -> new UNet2DConditionModel(p, spec.unet()));
            check(problems, "vae", Params.root(spec.vaeWeights(), cpu), p -> new AutoencoderKL(p, spec.vae()));
        }
        return problems;
    }

    private static void check(List<String> problems, String component, Params root, Consumer<Params> build) {
        try {
            build.accept(root);
        } catch (WeightException e) {
            problems.add(component + ": " + e.getMessage());
            return;
        }
        problems.addAll(StableDiffusionModel.unusedWeights(component, root).stream().map(n -> "unused " + n).toList());
    }

    private static String list(List<String> names) {
        if (names.isEmpty()) {
            return "none";
        }
        int shown = Math.min(6, names.size());
        return names.size() + " tensors: " + String.join(", ", names.subList(0, shown)) + (names.size() > shown ? ", ..." : "");
    }

    private static void line(StringBuilder out, String s) {
        out.append(s).append('\n');
    }
}
