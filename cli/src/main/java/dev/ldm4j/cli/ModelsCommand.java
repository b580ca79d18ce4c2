// ./ldm4j models: the built-in models, with the first line of each model card.
package dev.ldm4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "models", mixinStandardHelpOptions = true, description = "List the built-in models (use one with --model NAME).")
public final class ModelsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        var names = BuiltinModels.names();
        if (names.isEmpty()) {
            out.println("no built-in models in " + BuiltinModels.root());
            return 0;
        }
        for (String n : names) {
            out.printf("%-12s %s%s%n", n, summary(BuiltinModels.root().resolve(n)), n.equals(BuiltinModels.DEFAULT) ? " (default)" : "");
        }
        return 0;
    }

    /** The model card's first line that is not a heading, or the folder. */
    private static String summary(Path dir) {
        Path card = dir.resolve("MODEL_CARD.md");
        try {
            if (Files.isRegularFile(card)) {
                for (String line : Files.readAllLines(card)) {
                    if (!line.isBlank() && !line.startsWith("#")) {
                        return line.strip();
                    }
                }
            }
        } catch (IOException ignored) {
            // fall through to the folder's name
        }
        return dir.toString();
    }
}
