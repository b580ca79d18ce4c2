// ./ldm4j inspect: what ldm4j sees in a model before running it, or in a LoRA or embedding file.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.model.AddonInspector;
import dev.ldm4j.diffusion.model.ModelInspector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Show what ldm4j detects in a model: architecture, layout, parameters, missing or extra tensors;",
                "or in a LoRA file (layout, layers, ranks, alphas, blocks and kinds of layer it adapts) or a textual-inversion",
                "embedding (layout, token, vectors and width). Works on a diffusers folder or a single .safetensors file."})
public final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..1", paramLabel = "FILE",
            description = {"A LoRA or embedding .safetensors file (or a model, as --model). With --model beside it, also what",
                    "applying it to that model changes and leaves out."})
    Path file;

    @Option(names = "--model", paramLabel = "PATH", description = "A .safetensors checkpoint or a diffusers model folder.")
    Path model;

    @Option(names = "--config", paramLabel = "DIR", description = "A diffusers model folder whose configs describe a single-file checkpoint.")
    Path config;

    @Option(names = "--prediction", paramLabel = "eps|v", description = "Override the model's prediction type.")
    String prediction;

    @Override
    public Integer call() {
        if (file == null && model == null) {
            throw new Main.UserError("give something to inspect: a LoRA or embedding FILE, or --model PATH");
        }
        String report;
        AddonInspector.Kind kind = AddonInspector.Kind.NEITHER;
        if (file != null && Files.isRegularFile(file) && file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
            kind = AddonInspector.kind(file);
        }
        if (file != null && model != null && kind == AddonInspector.Kind.NEITHER) {
            throw new Main.UserError(file + " is no LoRA or embedding file; inspect a model with --model PATH alone");
        }
        report = switch (kind) {
            case LORA -> AddonInspector.lora(file);
            case EMBEDDING -> AddonInspector.embedding(file);
            case NEITHER -> ModelInspector.inspect(file != null ? file : model, config, prediction);
        };
        if (model != null && kind != AddonInspector.Kind.NEITHER) {
            report += "\n" + AddonInspector.against(model, config, prediction, file, kind);
        }
        spec.commandLine().getOut().print(report);
        spec.commandLine().getOut().flush();
        return 0;
    }
}
