// The models that ship with ldm4j, in models/NAME/ of the project (diffusers folders that ldm4j trained
// itself, each with a MODEL_CARD.md). `generate` uses "shapes" when no --model is given; `--model NAME`
// names one when no file or folder of that name exists; `./ldm4j models` lists them.
package dev.ldm4j.cli;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

final class BuiltinModels {
    static final String DEFAULT = "shapes";

    private BuiltinModels() {
    }

    /** models/ of the project: $LDM4J_HOME/models (or -Dldm4j.home), else three levels above the running jar (cli/target/ldm4j.jar). */
    static Path root() {
        String home = System.getProperty("ldm4j.home", System.getenv("LDM4J_HOME"));
        if (home != null && !home.isBlank()) {
            return Path.of(home).resolve("models");
        }
        try {
            Path code = Path.of(BuiltinModels.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return code.getParent().getParent().getParent().resolve("models");
        } catch (URISyntaxException | RuntimeException e) {
            return Path.of("models");
        }
    }

    /** The built-in models by name (folders of models/ holding a model_index.json), sorted. */
    static List<String> names() {
        Path r = root();
        if (!Files.isDirectory(r)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(r)) {
            return s.filter(p -> Files.isRegularFile(p.resolve("model_index.json"))).map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** model as given when it exists; else the built-in model of that name; else model unchanged (the loader then names it). */
    static Path resolve(Path model) {
        if (model == null) {
            Path d = root().resolve(DEFAULT);
            if (!Files.isRegularFile(d.resolve("model_index.json"))) {
                throw new Main.UserError("no --model given and the built-in model '" + DEFAULT + "' is missing from " + root()
                        + " (is this a complete clone?); pass --model PATH");
            }
            return d;
        }
        if (Files.exists(model) || model.getNameCount() != 1) {
            return model;
        }
        Path b = root().resolve(model.toString());
        return Files.isRegularFile(b.resolve("model_index.json")) ? b : model;
    }
}
