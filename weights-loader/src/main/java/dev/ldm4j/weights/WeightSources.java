// Opens a checkpoint file as a WeightSource, choosing the reader from the file name: a single
// .safetensors file, or a "*.safetensors.index.json" index over shards.
package dev.ldm4j.weights;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

public final class WeightSources {
    private WeightSources() {
    }

    /** A .safetensors file or a *.safetensors.index.json; throws WeightException (one line) otherwise. */
    public static WeightSource open(Path path) {
        String name = path.getFileName() == null ? "" : path.getFileName().toString().toLowerCase(Locale.ROOT);
        if (Files.isDirectory(path)) {
            throw SafetensorsFile.fail(path.toString(), "is a directory; give a .safetensors file or a *.safetensors.index.json");
        }
        if (name.endsWith(".index.json")) {
            return ShardedSafetensors.open(path);
        }
        if (name.endsWith(".ckpt") || name.endsWith(".pt") || name.endsWith(".pth") || name.endsWith(".bin")) {
            throw SafetensorsFile.fail(path.toString(), "pickled PyTorch checkpoints are not supported (they can run code when loaded); "
                    + "convert it to .safetensors");
        }
        return SafetensorsFile.open(path);
    }
}
