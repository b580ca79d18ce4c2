// The add-ons people load onto a base model, put onto a found model before it is built:
//  - LoRA files, merged into the U-Net and text-encoder weights on load (LoraMerge says why merged
//    rather than applied at run time): only the touched tensors are copied, off the Java heap;
//  - textual-inversion embeddings: the text encoder's token table gets one row per vector after the
//    base vocabulary (a copy of the table, in its dtype), and the tokenizer gets each token, which
//    then expands to those rows' ids wherever it appears in a prompt or negative prompt.
// LoRA goes first, so an embedding's rows join the table a text-encoder LoRA may have changed.
package dev.ldm4j.diffusion.model;

import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.tokenizer.AddedToken;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.weights.OverlayWeightSource;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightSource;
import dev.ldm4j.weights.embeddings.EmbeddingException;
import dev.ldm4j.weights.embeddings.EmbeddingFile;
import dev.ldm4j.weights.lora.LoraFile;
import dev.ldm4j.weights.lora.LoraMerge;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

public final class ModelAddons {
    /** The text encoder's token table, under its diffusers name. */
    static final String TOKEN_TABLE = "text_model.embeddings.token_embedding.weight";

    private ModelAddons() {
    }

    /** A LoRA file and the scale of its update. */
    public record Lora(Path file, double scale) {
    }

    /** An embedding file and its token, or null for the file's name without extension. */
    public record Embedding(Path file, String token) {
    }

    /**
     * The model with its add-ons.
     *
     * @param spec     the new spec (it owns and closes the merged tensors; the caller closes it)
     * @param summary  one line per add-on: what it changed
     * @param warnings one line per problem that did not stop loading: LoRA layers that match nothing,
     *                 tensors that are no LoRA weights (left out)
     */
    public record Applied(StableDiffusionModelSpec spec, List<String> summary, List<String> warnings) {
    }

    /**
     * Applies the LoRA files and embeddings to spec (which stays open and unchanged: the new spec's
     * sources are overlays of its sources). Throws LoraException or EmbeddingException (one line, naming
     * the file) when one cannot be used.
     */
    public static Applied apply(StableDiffusionModelSpec spec, List<Lora> loras, List<Embedding> embeddings) {
        if (loras.isEmpty() && embeddings.isEmpty()) {
            return new Applied(spec, List.of(), List.of());
        }
        List<String> summary = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        List<WeightSource> created = new ArrayList<>();
        try {
            WeightSource unet = spec.unetWeights();
            WeightSource text = spec.textEncoderWeights();
            if (!loras.isEmpty()) {
                LoraMerge.Result merged = mergeLoras(spec, loras, summary, warnings);
                created.addAll(merged.created());
                unet = merged.unet();
                text = merged.textEncoder();
            }
            ClipTextConfig textConfig = spec.textEncoder();
            List<AddedToken> tokens = new ArrayList<>();
            if (!embeddings.isEmpty()) {
                List<EmbeddingFile> files = new ArrayList<>();
                List<String> names = new ArrayList<>();
                for (Embedding e : embeddings) {
                    EmbeddingFile f = EmbeddingFile.open(e.file());
                    files.add(f);
                    names.add(e.token() == null ? f.defaultToken() : e.token());
                }
                OverlayWeightSource withRows = addRows(spec, text, files, names, tokens, summary);
                created.add(withRows);
                text = withRows;
                textConfig = textConfig.withVocabSize(textConfig.vocabSize() + tokens.stream().mapToInt(t -> t.ids().length).sum());
            }
            return new Applied(spec.withWeights(unet, text, textConfig, tokens, created), summary, warnings);
        } catch (RuntimeException e) {
            created.forEach(WeightSource::close);
            throw e;
        }
    }

    private static LoraMerge.Result mergeLoras(StableDiffusionModelSpec spec, List<Lora> loras, List<String> summary, List<String> warnings) {
        List<LoraMerge.Request> requests = new ArrayList<>();
        try (Backend cpu = Backends.create("cpu")) {
            for (Lora l : loras) {
                requests.add(new LoraMerge.Request(LoraFile.open(l.file()), l.scale()));
            }
            LoraMerge.Result merged = LoraMerge.merge(spec.unetWeights(), spec.textEncoderWeights(), requests, cpu);
            for (int i = 0; i < loras.size(); i++) {
                LoraMerge.Report r = merged.reports().get(i);
                summary.add(String.format(Locale.ROOT, "LoRA %s (%s), scale %s: %d U-Net and %d text-encoder weights merged",
                        r.file(), r.format().label(), loras.get(i).scale(), r.unetLayers(), r.textLayers()));
                if (!r.unmatched().isEmpty()) {
                    warnings.add(r.file() + ": " + r.unmatched().size() + " of its " + requests.get(i).file().modules().size()
                            + " LoRA layers match no weight of this model and were left out: " + firstFew(r.unmatched()));
                }
                if (!r.unknownKeys().isEmpty()) {
                    warnings.add(r.file() + ": " + r.unknownKeys().size() + " tensors are no part of a LoRA pair and were left out: "
                            + firstFew(r.unknownKeys()));
                }
            }
            return merged;
        } finally {
            requests.forEach(r -> r.file().close());
        }
    }

    /**
     * The text encoder's token table with each embedding's vectors appended as rows (in the table's dtype),
     * and the tokens that stand for them; checks widths and tokens.
     */
    private static OverlayWeightSource addRows(StableDiffusionModelSpec spec, WeightSource text, List<EmbeddingFile> files,
                                               List<String> names, List<AddedToken> tokens, List<String> summary) {
        int width = spec.textEncoder().hiddenSize();
        int vocab = spec.textEncoder().vocabSize();
        TensorInfo table = text.info(TOKEN_TABLE);
        if (table == null || table.shape()[0] != vocab || table.shape()[1] != width) {
            throw new EmbeddingException(spec.path() + ": the text encoder's token table is " + table + ", expected [" + vocab + ", " + width + "]");
        }
        Map<String, Path> seen = new HashMap<>();
        int rows = 0;
        for (int i = 0; i < files.size(); i++) {
            EmbeddingFile f = files.get(i);
            String token = names.get(i);
            if (f.width() != width) {
                throw new EmbeddingException(f.file() + ": its vectors have width " + f.width() + ", but this model's text encoder takes "
                        + width + " (an embedding for another model?)");
            }
            if (token.isBlank() || token.codePoints().anyMatch(Character::isWhitespace)) {
                throw new EmbeddingException(f.file() + ": the token '" + token + "' is not one word; give a token without spaces");
            }
            Path other = seen.putIfAbsent(token.toLowerCase(Locale.ROOT), f.file());
            if (other != null || token.equalsIgnoreCase(ClipTokenizer.BOS_TOKEN) || token.equalsIgnoreCase(ClipTokenizer.EOS_TOKEN)) {
                throw new EmbeddingException(f.file() + ": the token '" + token + "' is taken"
                        + (other == null ? " by CLIP itself" : " by " + other) + "; give each embedding a token of its own");
            }
            rows += f.count();
        }
        float[] base = text.tensor(TOKEN_TABLE).toFloatArray();
        float[] grown = java.util.Arrays.copyOf(base, base.length + rows * width);
        int next = vocab;
        for (int i = 0; i < files.size(); i++) {
            EmbeddingFile f = files.get(i);
            System.arraycopy(f.vectors(), 0, grown, next * width, f.count() * width);
            int[] ids = new int[f.count()];
            for (int j = 0; j < ids.length; j++) {
                ids[j] = next + j;
            }
            next += f.count();
            tokens.add(new AddedToken(names.get(i), ids));
            summary.add(String.format(Locale.ROOT, "embedding %s (%s): token '%s', %d vector%s of width %d",
                    f.file(), f.layout().label(), names.get(i), f.count(), f.count() == 1 ? "" : "s", f.width()));
        }
        return OverlayWeightSource.builder(text, "embeddings").replace(TOKEN_TABLE, grown, new int[] {next, width}, table.dtype()).build();
    }

    /** The first three names, then how many more. */
    static String firstFew(List<String> names) {
        int shown = Math.min(3, names.size());
        return String.join(", ", names.subList(0, shown)) + (names.size() > shown ? ", ... (" + (names.size() - shown) + " more)" : "");
    }
}
