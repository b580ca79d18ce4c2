// The report of `ldm4j inspect FILE` for an add-on: what a LoRA file holds (layout, layers in the
// U-Net and text encoder, ranks, alphas, which blocks and which kinds of layer it adapts, stray
// tensors) or what a textual-inversion embedding holds (layout, token, vectors and their width);
// with a model, also what applying it to that model changes and leaves out (ModelAddons' lines).
package dev.ldm4j.diffusion.model;

import dev.ldm4j.weights.WeightSource;
import dev.ldm4j.weights.WeightSources;
import dev.ldm4j.weights.embeddings.EmbeddingFile;
import dev.ldm4j.weights.lora.LoraFile;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

public final class AddonInspector {
    /** The layers LoRAs adapt, in diffusers and LDM names, longest first so that "ff.net.0.proj" wins over "proj". */
    private static final List<String> LAYER_KINDS = List.of("downsamplers.0.conv", "upsamplers.0.conv", "ff.net.0.proj", "ff.net.2",
            "time_emb_proj", "conv_shortcut", "skip_connection", "emb_layers.1", "in_layers.2", "out_layers.3", "to_out.0",
            "proj_in", "proj_out", "conv_in", "conv_out", "linear_1", "linear_2", "q_proj", "k_proj", "v_proj", "out_proj",
            "to_q", "to_k", "to_v", "conv1", "conv2", "fc1", "fc2", "op", "conv");
    private static final Pattern BLOCK = Pattern.compile("^((?:down|up)_blocks[._]\\d+|mid_block|(?:input|output)_blocks[._]\\d+|middle_block"
            + "|text_model[._]encoder[._]layers[._]\\d+|time_embedding|time_embed|conv_in|conv_out)");

    private AddonInspector() {
    }

    /** What kind of add-on the file is. */
    public enum Kind { LORA, EMBEDDING, NEITHER }

    /** Whether the .safetensors file is a LoRA, an embedding or neither (a model, or something else). */
    public static Kind kind(Path file) {
        try (WeightSource src = WeightSources.open(file)) {
            Set<String> names = src.names();
            if (LoraFile.looksLikeLora(names)) {
                return Kind.LORA;
            }
            boolean embedding = names.contains("emb_params") || names.stream().anyMatch(n -> n.startsWith("string_to_param."))
                    || names.contains("clip_l") || names.size() == 1 && src.info(names.iterator().next()).shape().length <= 2;
            return embedding ? Kind.EMBEDDING : Kind.NEITHER;
        }
    }

    /** The report of a LoRA file; throws LoraException (one line) when it cannot be read. */
    public static String lora(Path file) {
        try (LoraFile f = LoraFile.open(file)) {
            List<LoraFile.Module> modules = f.modules();
            StringBuilder out = new StringBuilder();
            line(out, "File:         " + file);
            line(out, "Kind:         LoRA, " + f.format().label());
            long unet = modules.stream().filter(m -> m.component() == LoraFile.Component.UNET).count();
            long text = modules.stream().filter(m -> m.component() == LoraFile.Component.TEXT_ENCODER).count();
            long either = modules.size() - unet - text;
            line(out, "Layers:       " + modules.size() + " (U-Net " + unet + ", text encoder " + text
                    + (either > 0 ? ", " + either + " without a unet./text_encoder. prefix, looked up in both" : "") + ")");
            line(out, "Rank:         " + counted(modules, m -> Integer.toString(m.rank())));
            line(out, "Alpha:        " + counted(modules, m -> Double.isNaN(m.alpha()) ? "none (= rank)" : trim(m.alpha()))
                    + "; scale per layer alpha/rank: " + counted(modules, m -> trim(m.alphaOverRank())));
            line(out, "Layer shapes: " + counted(modules, m -> m.deltaShape().length == 2 ? "linear"
                    : "conv " + m.deltaShape()[2] + "x" + m.deltaShape()[3]));
            line(out, "Blocks:       " + counted(modules, AddonInspector::block));
            line(out, "Layer kinds:  " + counted(modules, AddonInspector::layerKind));
            List<String> unknown = f.unknownKeys();
            line(out, "Other:        " + (unknown.isEmpty() ? "none" : unknown.size() + " tensors that are no part of a LoRA pair (left out): "
                    + ModelAddons.firstFew(unknown)));
            return out.toString();
        }
    }

    /** The report of an embedding file; throws EmbeddingException (one line) when it cannot be read. */
    public static String embedding(Path file) {
        EmbeddingFile e = EmbeddingFile.open(file);
        StringBuilder out = new StringBuilder();
        line(out, "File:         " + file);
        line(out, "Kind:         textual-inversion embedding, " + e.layout().label());
        line(out, "Token:        '" + e.defaultToken() + "' (the file's name)"
                + (e.storedToken() == null ? "" : "; the file names it '" + e.storedToken() + "'"));
        String model = switch (e.width()) {
            case 768 -> " (CLIP ViT-L: SD 1.x)";
            case 1024 -> " (OpenCLIP ViT-H: SD 2.x)";
            default -> "";
        };
        line(out, "Vectors:      " + e.count() + " of width " + e.width() + model + "; the token takes " + e.count()
                + " of a prompt's 75 positions");
        return out.toString();
    }

    /**
     * What applying the add-on to a model does: ModelAddons' summary and warnings for it (a LoRA at
     * scale 1), found by applying it; throws ModelException, LoraException or EmbeddingException in one line.
     */
    public static String against(Path model, Path configDir, String prediction, Path file, Kind kind) {
        List<ModelAddons.Lora> loras = kind == Kind.LORA ? List.of(new ModelAddons.Lora(file, 1.0)) : List.of();
        List<ModelAddons.Embedding> embeddings = kind == Kind.EMBEDDING ? List.of(new ModelAddons.Embedding(file, null)) : List.of();
        StringBuilder out = new StringBuilder();
        try (StableDiffusionModelSpec spec = ModelDiscovery.discover(model, configDir, prediction)) {
            ModelAddons.Applied a = ModelAddons.apply(spec, loras, embeddings);
            try (StableDiffusionModelSpec applied = a.spec()) {
                line(out, "Model:        " + applied.path() + " (" + applied.family().label() + ", " + applied.layout().label() + ")");
                a.summary().forEach(s -> line(out, "Applied:      " + s));
                a.warnings().forEach(w -> line(out, "Left out:     " + w));
            }
        }
        return out.toString();
    }

    /** "value xcount, ..." over the modules, most frequent first ("8 (all)" when there is one value). */
    private static String counted(List<LoraFile.Module> modules, Function<LoraFile.Module, String> key) {
        Map<String, Long> counts = modules.stream().collect(Collectors.groupingBy(key, TreeMap::new, Collectors.counting()));
        if (counts.size() == 1) {
            return counts.keySet().iterator().next() + " (all)";
        }
        return counts.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue()))
                .map(en -> en.getKey() + " x" + en.getValue()).collect(Collectors.joining(", "));
    }

    /** The block a layer sits in ("down_blocks.1", "mid_block", "text layer 3"), or "other". */
    static String block(LoraFile.Module m) {
        Matcher b = BLOCK.matcher(m.path());
        if (!b.find()) {
            return "other";
        }
        String s = b.group(1).replaceAll("[._](\\d+)$", ".$1");     // down_blocks_1 -> down_blocks.1
        return s.startsWith("text_model") ? "text layer " + s.substring(s.lastIndexOf('.') + 1) : s;
    }

    /** The kind of layer ("to_q", "conv1", "ff.net.0.proj"), or "other". */
    static String layerKind(LoraFile.Module m) {
        for (String kind : LAYER_KINDS) {
            String k = m.flat() ? kind.replace('.', '_') : kind;
            String sep = m.flat() ? "_" : ".";
            if (m.path().equals(k) || m.path().endsWith(sep + k)) {
                return kind;
            }
        }
        return "other";
    }

    private static String trim(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : Double.toString(v);
    }

    private static void line(StringBuilder out, String s) {
        out.append(s).append('\n');
    }
}
