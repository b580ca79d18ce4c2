// The front door for Java users: Ldm4j.load("shapes") or Ldm4j.load(Path.of("my-model")) gives a DiffusionModel on the
// CPU (or on a backend of one's choice). A thin layer over ModelDiscovery and StableDiffusionPipeline.load: a name that
// is not a file or folder is looked up among the built-in models, the folders of the project's models/ directory.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.model.ModelException;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Loads Stable Diffusion models for use from Java.
 *
 * <pre>{@code
 * try (DiffusionModel model = Ldm4j.load("shapes")) {
 *     GenerationResult result = model.generate(model.request("a red circle").withSeed(7));
 * }
 * }</pre>
 *
 * The JVM needs {@code --add-modules jdk.incubator.vector} (the CPU backend's kernels use the Vector API).
 */
public final class Ldm4j {
    private Ldm4j() {
    }

    /**
     * A model by path or built-in name, on the CPU. {@code model} is a diffusers folder or a single-file checkpoint
     * when such a file or folder exists, else the name of a built-in model ({@code "shapes"}), found by builtinModel.
     *
     * @throws ModelException when there is neither such a path nor such a built-in model, or the model cannot be loaded
     */
    public static DiffusionModel load(String model) {
        Path p = Path.of(model);
        return load(Files.exists(p) ? p : builtinModel(model));
    }

    /** A diffusers folder or single-file checkpoint (whose shapes settle its configs) on the CPU. */
    public static DiffusionModel load(Path model) {
        Backend cpu = Backends.create("cpu");
        try {
            return new DiffusionModel(StableDiffusionPipeline.load(model, null, null, cpu), cpu, true);
        } catch (RuntimeException e) {
            cpu.close();
            throw e;
        }
    }

    /**
     * A model on a backend the caller made and closes ({@code Backends.create("cuda")} with the kernels module on the
     * class path); for configs, a separate tokenizer, LoRA files or another prediction type, load a
     * StableDiffusionPipeline yourself and wrap it with DiffusionModel.of.
     */
    public static DiffusionModel load(Path model, Backend backend) {
        return new DiffusionModel(StableDiffusionPipeline.load(model, null, null, backend), backend, false);
    }

    /**
     * The folder of the built-in model {@code name} (a folder of models/ holding a model_index.json). models/ is looked
     * for in $LDM4J_HOME (or the system property ldm4j.home), then in the working directory and its parents, then
     * above the jar or classes folder this class came from (a build inside the project).
     *
     * @throws ModelException naming the places looked in when none holds the model
     */
    public static Path builtinModel(String name) {
        List<Path> roots = modelRoots();
        if (!name.isEmpty() && Path.of(name).getNameCount() == 1) {
            for (Path root : roots) {
                Path folder = root.resolve(name);
                if (Files.isRegularFile(folder.resolve("model_index.json"))) {
                    return folder;
                }
            }
        }
        throw new ModelException("'" + name + "' is neither a model file or folder nor a built-in model ("
                + (roots.isEmpty() ? "found no models/ folder" : "looked in " + roots)
                + "); give a model's path, or set LDM4J_HOME to the ldm4j project folder");
    }

    /** The existing models/ folders builtinModel searches, in order. */
    private static List<Path> modelRoots() {
        Set<Path> roots = new LinkedHashSet<>();
        String home = System.getProperty("ldm4j.home", System.getenv("LDM4J_HOME"));
        if (home != null && !home.isBlank()) {
            roots.add(Path.of(home).toAbsolutePath().resolve("models"));
        }
        addAncestors(Path.of("").toAbsolutePath(), roots);
        try {
            addAncestors(Path.of(Ldm4j.class.getProtectionDomain().getCodeSource().getLocation().toURI()), roots);
        } catch (URISyntaxException | RuntimeException e) {
            // no code source (e.g. a custom class loader): the other places still count
        }
        List<Path> existing = new ArrayList<>();
        for (Path r : roots) {
            if (Files.isDirectory(r)) {
                existing.add(r);
            }
        }
        return existing;
    }

    private static void addAncestors(Path from, Set<Path> roots) {
        for (Path p = from; p != null; p = p.getParent()) {
            roots.add(p.resolve("models"));
        }
    }
}
