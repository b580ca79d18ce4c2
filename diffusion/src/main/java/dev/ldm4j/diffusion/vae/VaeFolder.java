// An autoencoder loaded from a diffusers folder of its own, to stand in for a model's VAE (generate --vae):
// config.json and diffusion_pytorch_model.safetensors, either in the folder given or in its vae/ (a
// whole model folder). Which autoencoder it is comes from config.json's _class_name: AutoencoderKL (SD's
// VAE, e.g. a fine-tuned one) or AutoencoderTiny (TAESD). Loading is strict as a model's is: a missing or
// mis-shaped tensor fails naming it, and so do tensors the autoencoder does not use. Closing closes the file.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * @param path        the folder that holds config.json (the one given, or its vae/)
 * @param autoencoder the model built from it
 * @param weights     its open weights file
 */
public record VaeFolder(Path path, Autoencoder autoencoder, WeightSource weights) implements AutoCloseable {
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "diffusion_pytorch_model.safetensors";
    /** The _class_name values this project can load. */
    public static final List<String> CLASSES = List.of("AutoencoderKL", "AutoencoderTiny");

    /**
     * The folder of dir that holds the autoencoder's config.json (dir, else dir/vae) and the class it names,
     * checked to be one of CLASSES without loading any weights (so a front end can refuse before a model loads).
     */
    public static Found find(Path dir) {
        if (Files.isRegularFile(dir)) {
            throw new WeightException(dir + " is a file; an autoencoder is read from a diffusers folder (" + CONFIG + " and " + WEIGHTS
                    + ", or a model folder with vae/)");
        }
        if (!Files.isDirectory(dir)) {
            throw new WeightException(dir + ": no such folder");
        }
        Path folder = Files.isRegularFile(dir.resolve(CONFIG)) ? dir : dir.resolve("vae");
        Path config = folder.resolve(CONFIG);
        if (!Files.isRegularFile(config)) {
            throw new WeightException(dir + " has no " + CONFIG + " nor vae/" + CONFIG + ": it is not a diffusers autoencoder folder");
        }
        Map<String, Object> json = Json.parseObject(config);
        Object name = json.get("_class_name");
        if (!(name instanceof String s) || !CLASSES.contains(s)) {
            throw new WeightException(config + ": _class_name " + (name == null ? "is absent" : "'" + name + "'")
                    + "; an autoencoder to decode with must be one of " + String.join(", ", CLASSES));
        }
        if (!Files.isRegularFile(folder.resolve(WEIGHTS))) {
            throw new WeightException(folder + ": no " + WEIGHTS + " beside " + CONFIG);
        }
        return new Found(folder, (String) name, json);
    }

    /** What find() saw: the folder, its class and its parsed config. */
    public record Found(Path folder, String className, Map<String, Object> config) {
        /** The latent channels the config declares (latent_channels, 4 when absent, as diffusers' default). */
        public int latentChannels() {
            Object v = config.get("latent_channels");
            return v instanceof Number n ? n.intValue() : 4;
        }
    }

    /** Loads the autoencoder of dir (see find) onto backend. */
    public static VaeFolder open(Path dir, Backend backend) {
        Found found = find(dir);
        SafetensorsFile file = SafetensorsFile.open(found.folder().resolve(WEIGHTS));
        try {
            Params p = Params.root(file, backend);
            Autoencoder model = switch (found.className()) {
                case "AutoencoderTiny" -> new AutoencoderTiny(p, AutoencoderTinyConfig.fromJson(found.config()));
                default -> new AutoencoderKL(p, VaeConfig.fromJson(found.config()));
            };
            Set<String> unused = p.unused();
            if (!unused.isEmpty()) {
                List<String> some = unused.stream().limit(8).toList();
                throw new WeightException(file.origin() + ": " + unused.size() + " tensors the " + found.className() + " does not use: "
                        + String.join(", ", some) + (unused.size() > some.size() ? ", ..." : ""));
            }
            return new VaeFolder(found.folder(), model, file);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    @Override
    public void close() {
        weights.close();
    }
}
