// The --lora FILE[:SCALE] and --embedding FILE[:TOKEN] flags of generate and eval: read and checked
// before any model loads (the file is there, a .safetensors file, the scale a number), and what
// loading them did said on stderr.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.model.ModelAddons;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

final class AddonOptions {
    private AddonOptions() {
    }

    /** Each --lora value as a file and scale (1 when none is given). */
    static List<ModelAddons.Lora> loras(List<String> values) {
        List<ModelAddons.Lora> out = new ArrayList<>();
        for (String v : values) {
            String[] fileAndRest = split(v);
            double scale = 1.0;
            if (fileAndRest[1] != null) {
                try {
                    scale = Double.parseDouble(fileAndRest[1]);
                } catch (NumberFormatException e) {
                    scale = Double.NaN;
                }
                if (!Double.isFinite(scale)) {
                    throw new Main.UserError("--lora " + v + ": the scale '" + fileAndRest[1] + "' is not a number (FILE:SCALE, e.g. style.safetensors:0.8)");
                }
            }
            out.add(new ModelAddons.Lora(file("--lora", fileAndRest[0]), scale));
        }
        return out;
    }

    /** Each --embedding value as a file and token (null: the file's name without extension). */
    static List<ModelAddons.Embedding> embeddings(List<String> values) {
        List<ModelAddons.Embedding> out = new ArrayList<>();
        for (String v : values) {
            String[] fileAndRest = split(v);
            if (fileAndRest[1] != null && (fileAndRest[1].isBlank() || fileAndRest[1].codePoints().anyMatch(Character::isWhitespace))) {
                throw new Main.UserError("--embedding " + v + ": the token '" + fileAndRest[1] + "' must be one word without spaces (FILE:TOKEN)");
            }
            out.add(new ModelAddons.Embedding(file("--embedding", fileAndRest[0]), fileAndRest[1]));
        }
        return out;
    }

    /** {file, what follows the last ':'} or {value, null}: a value naming an existing file is a file, colons and all. */
    private static String[] split(String value) {
        int colon = value.lastIndexOf(':');
        if (colon < 0 || exists(value)) {
            return new String[] {value, null};
        }
        return new String[] {value.substring(0, colon), value.substring(colon + 1)};
    }

    private static boolean exists(String path) {
        try {
            return Files.exists(Path.of(path));
        } catch (InvalidPathException e) {
            return false;
        }
    }

    private static Path file(String flag, String name) {
        Path p;
        try {
            p = Path.of(name);
        } catch (InvalidPathException e) {
            throw new Main.UserError(flag + " " + name + ": not a valid file name");
        }
        String lower = name.toLowerCase(Locale.ROOT);
        if (lower.endsWith(".pt") || lower.endsWith(".ckpt") || lower.endsWith(".bin") || lower.endsWith(".pth")) {
            throw new Main.UserError(flag + " " + name + ": pickled PyTorch files are not read (they can run code when loaded);"
                    + " use the .safetensors version");
        }
        if (!Files.exists(p)) {
            throw new Main.UserError(flag + " " + name + ": no such file");
        }
        if (!Files.isRegularFile(p)) {
            throw new Main.UserError(flag + " " + name + ": not a file (give a .safetensors file)");
        }
        return p;
    }

    /** What the add-ons changed and left out, one stderr line each. */
    static void report(ModelAddons.Applied applied, PrintWriter err) {
        applied.summary().forEach(s -> err.println("ldm4j: " + s));
        applied.warnings().forEach(w -> err.println("ldm4j: warning: " + w));
    }

    /** The add-ons as a PNG's parameters name them: "file:scale, ..." or "file:token, ...", or null for none. */
    static String describeLoras(List<ModelAddons.Lora> loras) {
        return loras.isEmpty() ? null : String.join(", ", loras.stream().map(l -> l.file().getFileName() + ":" + l.scale()).toList());
    }

    static String describeEmbeddings(List<ModelAddons.Embedding> embeddings) {
        return embeddings.isEmpty() ? null : String.join(", ", embeddings.stream()
                .map(e -> e.file().getFileName() + (e.token() == null ? "" : ":" + e.token())).toList());
    }
}
