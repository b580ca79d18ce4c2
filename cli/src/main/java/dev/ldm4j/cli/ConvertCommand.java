// ./ldm4j convert: a diffusers model folder rewritten with its weights in another float dtype (fp16 for a
// shipped model: half the size, and the values an fp16 checkpoint holds), configs and tokenizer copied as they are.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.SafetensorsWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Copy a diffusers model folder with its safetensors weights in another dtype (e.g. fp16 for shipping).")
public final class ConvertCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The diffusers model folder to read.")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The folder to write (must not exist, unless --overwrite).")
    Path out;

    @Option(names = "--dtype", defaultValue = "fp16", paramLabel = "fp32|fp16|bf16", description = "Weight dtype (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--overwrite", description = "Replace files in an existing --out.")
    boolean overwrite;

    /** The parts of a model folder that are copied: configs, tokenizer files, the model card; training leftovers are not. */
    private static final List<String> SKIP = List.of("checkpoint", "rounds", "train-log.jsonl", "loss.png", "samples.png", "reconstructions.png");

    @Override
    public Integer call() throws IOException {
        DType d = switch (dtype) {
            case "fp32" -> DType.F32;
            case "fp16" -> DType.F16;
            case "bf16" -> DType.BF16;
            default -> throw new Main.UserError("--dtype must be fp32, fp16 or bf16, got '" + dtype + "'");
        };
        if (!Files.isRegularFile(model.resolve("model_index.json"))) {
            throw new Main.UserError("--model " + model + ": not a diffusers model folder (no model_index.json)");
        }
        if (Files.exists(out) && !overwrite) {
            throw new Main.UserError("--out " + out + " exists; pass --overwrite to replace its files");
        }
        List<Path> files;
        try (Stream<Path> s = Files.walk(model)) {
            files = s.filter(Files::isRegularFile)
                    .filter(p -> SKIP.stream().noneMatch(k -> model.relativize(p).startsWith(k)))
                    .sorted().toList();
        }
        for (Path f : files) {
            Path to = out.resolve(model.relativize(f).toString());
            Files.createDirectories(to.getParent());
            if (f.getFileName().toString().endsWith(".safetensors")) {
                try (SafetensorsFile in = SafetensorsFile.open(f)) {
                    Map<String, Tensor> tensors = new LinkedHashMap<>();
                    for (String n : in.names()) {
                        tensors.put(n, in.tensor(n));
                    }
                    SafetensorsWriter.write(to, tensors, Map.of("format", "pt"), d, overwrite);
                }
            } else {
                Files.copy(f, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        System.err.println("ldm4j: wrote " + out + " (" + files.size() + " files, weights as " + d + ")");
        return 0;
    }
}
