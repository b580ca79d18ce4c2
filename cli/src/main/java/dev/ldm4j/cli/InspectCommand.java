// ./ldm4j inspect: what ldm4j sees in a model before running it.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.model.ModelInspector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Show what ldm4j detects in a model: architecture, layout, parameters, missing or extra tensors.",
                "Works on a diffusers folder or a single .safetensors file."})
public final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "PATH", description = "A .safetensors checkpoint or a diffusers model folder.")
    Path model;

    @Option(names = "--config", paramLabel = "DIR", description = "A diffusers model folder whose configs describe a single-file checkpoint.")
    Path config;

    @Option(names = "--prediction", paramLabel = "eps|v", description = "Override the model's prediction type.")
    String prediction;

    @Override
    public Integer call() {
        spec.commandLine().getOut().print(ModelInspector.inspect(model, config, prediction));
        spec.commandLine().getOut().flush();
        return 0;
    }
}
