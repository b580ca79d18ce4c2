// Applies LoRA files to a model's U-Net and text-encoder weights by merging them on load:
// W' = W + sum over files of scale * (alpha / r) * up . down, computed once, before the models are
// built, for the touched tensors only.
//
// Why merge on load rather than add x . down^T . up^T at run time: a merged model runs every step at
// the speed of the plain model (the extra products would cost each step about what the LoRA's rank
// adds to every adapted layer, for the whole run), needs no change to the model code, the CPU or CUDA
// kernels or a recorded CUDA graph, and uses the formula of diffusers' fuse_lora. What it costs:
// a copy of each touched tensor. That copy keeps the dtype of the tensor it replaces (the sum is
// formed in float32 and rounded once, as fusing into a half-precision model does), so memory
// does not grow past the touched tensors' own size, and it lives off the Java heap, in the overlay
// that replaces them; the memory-mapped rest of the checkpoint stays untouched.
//
// Layer names are found from the model's own parameter names, not by rewriting strings: each weight
// "a.b.c.weight" of a component answers to its diffusers path "a.b.c" (PEFT and diffusers files) and
// to that path with dots as underscores (kohya's lora_unet_a_b_c); for a single-file checkpoint the
// U-Net's weights also answer to their original (LDM) names, "input_blocks_1_1_proj_in" style, which
// some kohya/LyCORIS files use.
package dev.ldm4j.weights.lora;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.weights.OverlayWeightSource;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightSource;
import dev.ldm4j.weights.keys.MappedWeightSource;
import dev.ldm4j.weights.keys.OriginalLayout;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

public final class LoraMerge {
    private LoraMerge() {
    }

    /** One file to apply with its scale (the multiplier of kohya's and A1111's &lt;lora:name:scale&gt;). */
    public record Request(LoraFile file, double scale) {
    }

    /**
     * What one file did.
     *
     * @param unetLayers  U-Net weights it changed
     * @param textLayers  text-encoder weights it changed
     * @param unmatched   its layers that match no weight of the model (left out)
     * @param unknownKeys its tensors that are no part of a LoRA pair (left out)
     */
    public record Report(Path file, LoraFile.Format format, int unetLayers, int textLayers, List<String> unmatched,
                         List<String> unknownKeys) {
    }

    /**
     * The merged weights.
     *
     * @param unet        the U-Net's weights with the touched tensors replaced (the given source when none was)
     * @param textEncoder the same for the text encoder
     * @param created     the overlays made, which own the merged tensors: close them with the model
     */
    public record Result(WeightSource unet, WeightSource textEncoder, List<Report> reports, List<WeightSource> created) {
    }

    /** One file's update of one weight. */
    private record Contribution(LoraFile file, LoraFile.Module module, double factor) {
    }

    /**
     * Merges the requests into the two components' weights. cpu computes the products up . down.
     *
     * @throws LoraException naming file, layer and both shapes when an update does not fit its weight,
     *                       or naming the file when none of its layers matches the model
     */
    public static Result merge(WeightSource unet, WeightSource textEncoder, List<Request> requests, Backend cpu) {
        Targets unetTargets = new Targets(unet, unet instanceof MappedWeightSource m ? m : null, false);
        Targets textTargets = new Targets(textEncoder, null, true);
        Map<String, List<Contribution>> unetUpdates = new LinkedHashMap<>();
        Map<String, List<Contribution>> textUpdates = new LinkedHashMap<>();
        List<Report> reports = new ArrayList<>();
        for (Request r : requests) {
            LoraFile f = r.file();
            List<String> unmatched = new ArrayList<>();
            Set<String> unetHit = new HashSet<>();
            Set<String> textHit = new HashSet<>();
            for (LoraFile.Module m : f.modules()) {
                String target = m.component() == LoraFile.Component.TEXT_ENCODER ? null : unetTargets.resolve(m);
                boolean inUnet = target != null;
                if (!inUnet && m.component() != LoraFile.Component.UNET) {
                    target = textTargets.resolve(m);
                }
                if (target == null) {
                    unmatched.add(m.key());
                    continue;
                }
                WeightSource component = inUnet ? unet : textEncoder;
                checkShape(f, m, component.info(target));
                (inUnet ? unetUpdates : textUpdates).computeIfAbsent(target, t -> new ArrayList<>())
                        .add(new Contribution(f, m, r.scale() * m.alphaOverRank()));
                (inUnet ? unetHit : textHit).add(target);
            }
            if (unetHit.isEmpty() && textHit.isEmpty()) {
                throw new LoraException(f.path() + ": none of its " + f.modules().size() + " LoRA layers matches a weight of this model"
                        + " (first: '" + f.modules().getFirst().key() + "'); is it a LoRA for another model?");
            }
            reports.add(new Report(f.path(), f.format(), unetHit.size(), textHit.size(), unmatched, f.unknownKeys()));
        }
        List<WeightSource> created = new ArrayList<>();
        WeightSource mergedUnet = apply(unet, unetUpdates, cpu, created);
        WeightSource mergedText = apply(textEncoder, textUpdates, cpu, created);
        return new Result(mergedUnet, mergedText, reports, created);
    }

    /** The update's shape must be the weight's, a 1x1 kernel [out, in, 1, 1] and a matrix [out, in] standing for each other. */
    private static void checkShape(LoraFile f, LoraFile.Module m, TensorInfo target) {
        int[] t = target.shape();
        int[] d = m.deltaShape();
        if (!Arrays.equals(squeezed(t), squeezed(d))) {
            throw new LoraException(f.path() + ": '" + m.key() + "' gives an update of shape " + Arrays.toString(d) + " for '"
                    + target.name() + "', which has shape " + Arrays.toString(t));
        }
    }

    /** [out, in, 1, 1] as [out, in]; other shapes as they are. */
    private static int[] squeezed(int[] s) {
        return s.length == 4 && s[2] == 1 && s[3] == 1 ? new int[] {s[0], s[1]} : s;
    }

    /** The base with each updated weight replaced by W + sum of the updates, in W's dtype. */
    private static WeightSource apply(WeightSource base, Map<String, List<Contribution>> updates, Backend cpu, List<WeightSource> created) {
        if (updates.isEmpty()) {
            return base;
        }
        OverlayWeightSource.Builder b = OverlayWeightSource.builder(base, "LoRA");
        try {
            for (Map.Entry<String, List<Contribution>> e : updates.entrySet()) {
                TensorInfo info = base.info(e.getKey());
                float[] w = base.tensor(e.getKey()).toFloatArray();
                float[] sum = new float[w.length];
                for (Contribution c : e.getValue()) {
                    float[] delta = cpu.toHost(cpu.matmul(c.file().up(c.module()), c.file().down(c.module()))).data(); // [out, in kh kw]
                    float factor = (float) c.factor();
                    for (int i = 0; i < sum.length; i++) {
                        sum[i] += factor * delta[i];
                    }
                }
                for (int i = 0; i < w.length; i++) {
                    if (sum[i] != 0) {
                        w[i] += sum[i];      // a zero update (scale 0) leaves W's bits as they are, signed zeros included
                    }
                }
                b.replace(e.getKey(), w, info.shape(), info.dtype());
            }
        } catch (RuntimeException ex) {
            b.discard();
            throw ex;
        }
        OverlayWeightSource merged = b.build();
        created.add(merged);
        return merged;
    }

    /** The weights of one component a LoRA layer may name, by dotted path and by kohya's flattened path. */
    private static final class Targets {
        private final WeightSource source;
        private final boolean textEncoder;
        private final Map<String, String> flat = new HashMap<>();
        private final Set<String> ambiguous = new HashSet<>();

        Targets(WeightSource source, MappedWeightSource original, boolean textEncoder) {
            this.source = source;
            this.textEncoder = textEncoder;
            for (String name : source.names()) {
                if (adaptable(source.info(name))) {
                    addFlat(name.substring(0, name.length() - ".weight".length()), name);
                }
            }
            if (original != null) {
                for (Map.Entry<String, MappedWeightSource.Entry> e : original.entries().entrySet()) {
                    String from = e.getValue().sourceName();
                    if (from.startsWith(OriginalLayout.UNET_PREFIX) && adaptable(e.getValue().info())) {
                        addFlat(from.substring(OriginalLayout.UNET_PREFIX.length(), from.length() - ".weight".length()), e.getKey());
                    }
                }
            }
        }

        /** A linear or conv weight: the layers a LoRA adapts. */
        private static boolean adaptable(TensorInfo info) {
            int rank = info.shape().length;
            return info.name().endsWith(".weight") && (rank == 2 || rank == 4);
        }

        private void addFlat(String path, String target) {
            String key = path.replace('.', '_');
            String previous = flat.putIfAbsent(key, target);
            if (previous != null && !previous.equals(target)) {
                ambiguous.add(key);
            }
        }

        /** The weight a layer of the file adapts, or null when this component has none of that name. */
        String resolve(LoraFile.Module m) {
            if (m.flat()) {
                return ambiguous.contains(m.path()) ? null : flat.get(m.path());
            }
            for (String path : textEncoder ? List.of(m.path(), "text_model." + m.path()) : List.of(m.path())) {
                TensorInfo info = source.info(path + ".weight");
                if (info != null && adaptable(info)) {
                    return path + ".weight";
                }
            }
            return null;
        }
    }
}
