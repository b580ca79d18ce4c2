// A textual-inversion embedding (Gal et al. 2022, "An Image is Worth One Word"): one or several
// vectors of the text encoder's input width that stand for one new token. Layouts read
// (.safetensors only; pickled .pt/.bin files are refused as checkpoints are):
//  - A1111: "emb_params" [N, D], or "string_to_param.*" [N, D] (the .pt layout saved as safetensors);
//  - diffusers: one tensor [N, D] or [D], named by its token ("<cat-toy>") or "learned_embeds".
// SDXL embeddings (clip_l and clip_g) are refused by name. The vectors are read as float32.
package dev.ldm4j.weights.embeddings;

import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightSource;
import dev.ldm4j.weights.WeightSources;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * @param file        where it came from
 * @param layout      how the file holds the vectors
 * @param key         the tensor holding them
 * @param storedToken the token the file names (a diffusers file's tensor name), or null
 * @param vectors     count x width values, row-major
 * @param count       vectors per token
 * @param width       the text encoder input width they are made for
 */
public record EmbeddingFile(Path file, Layout layout, String key, String storedToken, float[] vectors, int count, int width) {
    /** The most vectors one token may stand for: the 75 positions between BOS and EOS. */
    public static final int MAX_VECTORS = 75;

    public enum Layout {
        A1111_EMB_PARAMS("A1111 (emb_params)"),
        A1111_STRING_TO_PARAM("A1111 (string_to_param)"),
        DIFFUSERS("diffusers (one tensor)");

        private final String label;

        Layout(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    public EmbeddingFile {
        vectors = vectors.clone();
    }

    @Override
    public float[] vectors() {
        return vectors.clone();
    }

    /** Reads the vectors; throws EmbeddingException (or WeightException for a damaged file) in one line. */
    public static EmbeddingFile open(Path file) {
        String where = file.toString();
        try (WeightSource src = WeightSources.open(file)) {
            List<String> names = List.copyOf(src.names());
            if (names.contains("clip_l") || names.contains("clip_g")) {
                throw new EmbeddingException(where + ": an SDXL embedding (clip_l and clip_g vectors); ldm4j runs SD 1.x and 2.x models");
            }
            Layout layout;
            String key;
            List<String> params = names.stream().filter(n -> n.startsWith("string_to_param.")).toList();
            if (names.contains("emb_params")) {
                layout = Layout.A1111_EMB_PARAMS;
                key = "emb_params";
            } else if (!params.isEmpty()) {
                layout = Layout.A1111_STRING_TO_PARAM;
                key = params.contains("string_to_param.*") ? "string_to_param.*" : params.getFirst();
                if (params.size() > 1 && !params.contains("string_to_param.*")) {
                    throw new EmbeddingException(where + ": holds " + params.size() + " string_to_param tensors and none is '*'; which to use is unclear");
                }
            } else if (names.size() == 1) {
                layout = Layout.DIFFUSERS;
                key = names.getFirst();
            } else {
                throw new EmbeddingException(where + ": not a textual-inversion embedding (" + names.size() + " tensors"
                        + (names.isEmpty() ? "" : ", first '" + names.getFirst() + "'")
                        + "; expected emb_params, string_to_param.* or one tensor named by its token)");
            }
            TensorInfo info = src.info(key);
            int[] s = info.shape();
            if (!info.dtype().isFloating() || s.length < 1 || s.length > 2 || s[s.length - 1] == 0 || s.length == 2 && s[0] == 0) {
                throw new EmbeddingException(where + ": '" + key + "' is " + info.dtype() + Arrays.toString(s)
                        + "; expected floating-point vectors [count, width] or [width]");
            }
            int count = s.length == 2 ? s[0] : 1;
            int width = s[s.length - 1];
            if (count > MAX_VECTORS) {
                throw new EmbeddingException(where + ": '" + key + "' holds " + count + " vectors; a prompt has room for " + MAX_VECTORS);
            }
            float[] v = src.tensor(key).toFloatArray();
            for (float x : v) {
                if (!Float.isFinite(x)) {
                    throw new EmbeddingException(where + ": '" + key + "' holds a value that is not finite (" + x + ")");
                }
            }
            boolean named = layout == Layout.DIFFUSERS && !key.equals("learned_embeds");
            return new EmbeddingFile(file, layout, key, named ? key : null, v, count, width);
        }
    }

    /** The token a file stands for when none is given: its file name without the extension, as A1111 names embeddings. */
    public String defaultToken() {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }
}
