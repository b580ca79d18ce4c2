// A LoRA file (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models") read into its
// low-rank pairs: for each adapted layer a down matrix [r, in] (or a conv kernel [r, in, kh, kw]), an
// up matrix [out, r] (or [out, r, 1, 1]) and an optional alpha, so that the layer's weight becomes
// W + scale * (alpha / r) * up . down (alpha = r when absent).
//
// Layouts read (.safetensors only; pickled .pt/.ckpt/.bin files are refused as checkpoints are):
//  - kohya / A1111: lora_unet_<module path, dots as underscores>.lora_down.weight / .lora_up.weight /
//    .alpha, and lora_te_<...> for the text encoder; LoCon's conv layers (3x3 and 1x1 downs) included;
//  - diffusers / PEFT: [unet.|text_encoder.]<module path>.lora_A.weight / .lora_B.weight (+ .alpha, or
//    lora_alpha in the lora_adapter_metadata header entry diffusers writes), and diffusers' older
//    .lora.down/.lora.up, .lora_linear_layer.down/up and attention-processor (to_q_lora.down, ...) names.
// LyCORIS's other decompositions (LoHa, LoKr, Tucker lora_mid, DoRA) and SDXL LoRAs are refused by name.
// The file is parsed by SafetensorsFile (sizes and offsets checked); every defect is one LoraException line.
package dev.ldm4j.weights.lora;

import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightSource;
import dev.ldm4j.weights.WeightSources;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class LoraFile implements AutoCloseable {
    /** The naming scheme of a file (the first pair's, when a file mixes them). */
    public enum Format {
        KOHYA("kohya / A1111 (lora_down, lora_up, alpha)"),
        PEFT("diffusers / PEFT (lora_A, lora_B)"),
        DIFFUSERS_OLD("older diffusers (lora.down, lora.up)");

        private final String label;

        Format(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** Which model a pair adapts; EITHER for diffusers names without a unet./text_encoder. prefix. */
    public enum Component { UNET, TEXT_ENCODER, EITHER }

    /**
     * One adapted layer.
     *
     * @param key        the pair's name in the file (the key without its .lora_down.weight / .lora_A.weight ending)
     * @param component  the model it adapts
     * @param path       the layer's path in the model: with dots (diffusers names) or, for kohya, with underscores
     * @param flat       true when path has underscores for dots (kohya)
     * @param rank       r, the inner dimension of up . down
     * @param alpha      the alpha the file gives, or NaN when it gives none (then alpha = r)
     * @param deltaShape the shape of up . down as a weight: [out, in] or [out, in, kh, kw]
     */
    public record Module(String key, Component component, String path, boolean flat, String downKey, String upKey,
                         int rank, double alpha, int[] deltaShape) {
        /** alpha / r, the factor of the update before the user's scale. */
        public double alphaOverRank() {
            return Double.isNaN(alpha) ? 1.0 : alpha / rank;
        }
    }

    private static final Pattern KOHYA = Pattern.compile("(lora_unet|lora_te)_([^.]+)\\.(.+)");
    private static final Pattern PROCESSOR = Pattern.compile("(.+)\\.processor\\.(to_q|to_k|to_v|to_out)_lora\\.(down|up)\\.weight");
    private static final String METADATA_KEY = "lora_adapter_metadata";

    /** Dotted endings: {ending, part}; part is "down", "up" or "alpha". */
    private static final String[][] DOTTED_ENDINGS = {
            {".lora_A.weight", "down"}, {".lora_B.weight", "up"},
            {".lora_down.weight", "down"}, {".lora_up.weight", "up"},
            {".lora.down.weight", "down"}, {".lora.up.weight", "up"},
            {".lora_linear_layer.down.weight", "down"}, {".lora_linear_layer.up.weight", "up"},
            {".alpha", "alpha"}};

    private final Path path;
    private final WeightSource source;
    private final Format format;
    private final List<Module> modules;
    private final List<String> unknownKeys;

    private LoraFile(Path path, WeightSource source, Format format, List<Module> modules, List<String> unknownKeys) {
        this.path = path;
        this.source = source;
        this.format = format;
        this.modules = List.copyOf(modules);
        this.unknownKeys = List.copyOf(unknownKeys);
    }

    /** True when the names look like a LoRA's rather than a model's (used to refuse a LoRA passed as a model). */
    public static boolean looksLikeLora(Set<String> names) {
        for (String n : names) {
            if (n.startsWith("lora_unet_") || n.startsWith("lora_te") || n.contains(".lora_A.") || n.contains(".lora_down.")
                    || n.contains(".lora.down.") || n.contains("_lora.down.") || n.contains(".lora_linear_layer.")) {
                return true;
            }
        }
        return false;
    }

    /** Opens and parses a LoRA file; throws LoraException (or WeightException for a damaged file) in one line. */
    public static LoraFile open(Path file) {
        WeightSource src = WeightSources.open(file);
        try {
            return parse(file, src);
        } catch (RuntimeException e) {
            src.close();
            throw e;
        }
    }

    private static final class Parts {
        String key;
        Component component;
        String path;
        boolean flat;
        Format format;
        String down;
        String up;
        String alpha;
    }

    private static LoraFile parse(Path file, WeightSource src) {
        String where = file.toString();
        Map<String, Parts> pairs = new LinkedHashMap<>();
        List<String> unknown = new ArrayList<>();
        for (String name : src.names()) {
            refuseUnsupported(where, name);
            Matcher k = KOHYA.matcher(name);
            if (k.matches()) {
                String part = switch (k.group(3)) {
                    case "lora_down.weight" -> "down";
                    case "lora_up.weight" -> "up";
                    case "alpha" -> "alpha";
                    default -> null;
                };
                if (part == null) {
                    unknown.add(name);
                    continue;
                }
                Component c = k.group(1).equals("lora_unet") ? Component.UNET : Component.TEXT_ENCODER;
                put(pairs, k.group(1) + "_" + k.group(2), c, k.group(2), true, Format.KOHYA, part, name);
                continue;
            }
            if (!dotted(pairs, name)) {
                unknown.add(name);
            }
        }
        Map<Component, Double> metadataAlpha = metadataAlpha(where, src);
        List<Module> modules = new ArrayList<>();
        Format format = null;
        for (Parts p : pairs.values()) {
            if (p.down == null || p.up == null) {
                if (p.down == null && p.up == null) {
                    unknown.add(p.alpha);   // an alpha without its pair
                    continue;
                }
                throw new LoraException(where + ": '" + (p.down != null ? p.down : p.up) + "' has no matching "
                        + (p.down == null ? "down (lora_down / lora_A)" : "up (lora_up / lora_B)") + " weight (a damaged or partial LoRA file)");
            }
            modules.add(module(where, src, p, metadataAlpha));
            if (format == null) {
                format = p.format;
            }
        }
        if (modules.isEmpty()) {
            throw new LoraException(where + ": holds no LoRA weights (no lora_down/lora_up or lora_A/lora_B pairs"
                    + (unknown.isEmpty() ? "" : "; first key '" + unknown.getFirst() + "'") + ")");
        }
        return new LoraFile(file, src, format, modules, unknown);
    }

    /** SDXL files and LyCORIS's other decompositions, refused by name rather than half applied. */
    private static void refuseUnsupported(String where, String name) {
        if (name.startsWith("lora_te1_") || name.startsWith("lora_te2_") || name.startsWith("text_encoder_2.")) {
            throw new LoraException(where + ": an SDXL LoRA ('" + name + "'); ldm4j runs SD 1.x and 2.x models");
        }
        String[][] kinds = {{".hada_", "LoHa"}, {".lokr_", "LoKr"}, {".lora_mid.", "LoCon with a Tucker core (lora_mid)"},
                {".dora_scale", "DoRA"}, {".lora_magnitude_vector", "DoRA"}};
        for (String[] kind : kinds) {
            if (name.contains(kind[0])) {
                throw new LoraException(where + ": a LyCORIS " + kind[1] + " file ('" + name + "'); only plain LoRA and LoCon"
                        + " (lora_down/lora_up) and PEFT LoRA (lora_A/lora_B) are read");
            }
        }
    }

    /** A diffusers/PEFT name: records it and returns true, or returns false when it is no LoRA part. */
    private static boolean dotted(Map<String, Parts> pairs, String name) {
        Component c = Component.EITHER;
        String rest = name;
        if (rest.startsWith("unet.")) {
            c = Component.UNET;
            rest = rest.substring("unet.".length());
        } else if (rest.startsWith("text_encoder.")) {
            c = Component.TEXT_ENCODER;
            rest = rest.substring("text_encoder.".length());
        }
        Matcher m = PROCESSOR.matcher(rest);
        if (m.matches()) {
            String layer = m.group(2).equals("to_out") ? "to_out.0" : m.group(2);
            String module = m.group(1) + "." + layer;
            put(pairs, name.substring(0, name.indexOf(".processor.")) + "." + layer, c, module, false, Format.DIFFUSERS_OLD, m.group(3), name);
            return true;
        }
        for (String[] e : DOTTED_ENDINGS) {
            if (rest.endsWith(e[0]) && rest.length() > e[0].length()) {
                String module = rest.substring(0, rest.length() - e[0].length());
                Format f = e[0].contains("lora_A") || e[0].contains("lora_B") || e[1].equals("alpha") ? Format.PEFT
                        : e[0].startsWith(".lora_") && !e[0].startsWith(".lora_linear") ? Format.KOHYA : Format.DIFFUSERS_OLD;
                put(pairs, name.substring(0, name.length() - e[0].length()), c, module, false, f, e[1], name);
                return true;
            }
        }
        return false;
    }

    private static void put(Map<String, Parts> pairs, String key, Component c, String path, boolean flat, Format f, String part, String name) {
        Parts p = pairs.computeIfAbsent(key, x -> new Parts());
        p.key = key;
        p.component = c;
        p.path = path;
        p.flat = flat;
        if (!part.equals("alpha") || p.format == null) {
            p.format = f;
        }
        switch (part) {
            case "down" -> p.down = name;
            case "up" -> p.up = name;
            default -> p.alpha = name;
        }
    }

    private static Module module(String where, WeightSource src, Parts p, Map<Component, Double> metadataAlpha) {
        TensorInfo down = src.info(p.down);
        TensorInfo up = src.info(p.up);
        for (TensorInfo t : new TensorInfo[] {down, up}) {
            if (!t.dtype().isFloating()) {
                throw new LoraException(where + ": '" + t.name() + "' is " + t.dtype() + ", not a floating-point tensor");
            }
        }
        int[] d = down.shape();
        int[] u = up.shape();
        boolean downOk = d.length == 2 || d.length == 4;
        boolean upOk = u.length == 2 || u.length == 4 && u[2] == 1 && u[3] == 1;
        if (!downOk || !upOk || d[0] == 0) {
            throw new LoraException(where + ": '" + p.key + "' has down " + Arrays.toString(d) + " and up " + Arrays.toString(u)
                    + "; expected down [r, in] or [r, in, kh, kw] and up [out, r] or [out, r, 1, 1]");
        }
        if (u[1] != d[0]) {
            throw new LoraException(where + ": '" + p.key + "': rank mismatch, down " + Arrays.toString(d) + " has rank " + d[0]
                    + " but up " + Arrays.toString(u) + " has rank " + u[1]);
        }
        double alpha = Double.NaN;
        if (p.alpha != null) {
            TensorInfo a = src.info(p.alpha);
            if (a.numel() != 1 || !a.dtype().isFloating()) {
                throw new LoraException(where + ": '" + p.alpha + "' is " + a.dtype() + Arrays.toString(a.shape()) + ", expected one number");
            }
            alpha = src.tensor(p.alpha).toFloatArray()[0];
            if (!Double.isFinite(alpha)) {
                throw new LoraException(where + ": '" + p.alpha + "' is " + alpha + ", not a finite number");
            }
        } else if (metadataAlpha.containsKey(p.component)) {
            alpha = metadataAlpha.get(p.component);
        }
        int[] delta = d.length == 4 ? new int[] {u[0], d[1], d[2], d[3]} : new int[] {u[0], d[1]};
        return new Module(p.key, p.component, p.path, p.flat, p.down, p.up, d[0], alpha, delta);
    }

    /**
     * lora_alpha per component from diffusers' lora_adapter_metadata header entry (a PEFT LoraConfig as
     * JSON, its keys prefixed with "unet." / "text_encoder." when saved for a pipeline). Settings that
     * change the scale per layer or its formula (alpha_pattern, use_rslora) are refused rather than ignored.
     */
    private static Map<Component, Double> metadataAlpha(String where, WeightSource src) {
        Map<Component, Double> out = new LinkedHashMap<>();
        if (!(src instanceof SafetensorsFile f) || !f.metadata().containsKey(METADATA_KEY)) {
            return out;
        }
        Object parsed;
        try {
            parsed = Json.parse(f.metadata().get(METADATA_KEY));
        } catch (RuntimeException e) {
            throw new LoraException(where + ": the " + METADATA_KEY + " header entry is not valid JSON");
        }
        if (!(parsed instanceof Map<?, ?> config)) {
            throw new LoraException(where + ": the " + METADATA_KEY + " header entry is not a JSON object");
        }
        String[][] prefixes = {{"", "EITHER"}, {"unet.", "UNET"}, {"text_encoder.", "TEXT_ENCODER"}};
        for (String[] p : prefixes) {
            Object pattern = config.get(p[0] + "alpha_pattern");
            if (pattern instanceof Map<?, ?> m && !m.isEmpty()) {
                throw new LoraException(where + ": " + METADATA_KEY + " sets " + p[0] + "alpha_pattern (a scale per layer), which is not read");
            }
            if (Boolean.TRUE.equals(config.get(p[0] + "use_rslora"))) {
                throw new LoraException(where + ": " + METADATA_KEY + " sets " + p[0] + "use_rslora (rank-stabilized scaling), which is not read");
            }
            if (config.get(p[0] + "lora_alpha") instanceof Number n) {
                out.put(Component.valueOf(p[1]), n.doubleValue());
            }
        }
        Double shared = out.remove(Component.EITHER);
        if (shared != null) {
            for (Component c : Component.values()) {
                out.putIfAbsent(c, shared);
            }
        }
        return out;
    }

    /** down as a host F32 matrix [r, in * kh * kw]. */
    public Tensor down(Module m) {
        float[] v = source.tensor(m.downKey()).toFloatArray();
        return Tensor.of(v, m.rank(), v.length / m.rank());
    }

    /** up as a host F32 matrix [out, r]. */
    public Tensor up(Module m) {
        float[] v = source.tensor(m.upKey()).toFloatArray();
        return Tensor.of(v, v.length / m.rank(), m.rank());
    }

    public Path path() {
        return path;
    }

    public Format format() {
        return format;
    }

    public List<Module> modules() {
        return modules;
    }

    /** Tensors of the file that belong to no LoRA pair (reported, not applied). */
    public List<String> unknownKeys() {
        return unknownKeys;
    }

    @Override
    public void close() {
        source.close();
    }
}
