// ./ldm4j info IMAGE.png: the image's size and format and the generation parameters ldm4j (or A1111)
// wrote into it, exactly as stored; `generate --from-png IMAGE.png` runs them again.
package dev.ldm4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "info", mixinStandardHelpOptions = true,
        description = {"Show a PNG's size and the generation parameters stored in it (by ldm4j generate or A1111).",
                "Run them again with: ./ldm4j generate --from-png IMAGE.png [flags to change]."})
public final class InfoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "IMAGE.png", description = "The PNG file.")
    Path image;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PngMetadata png = PngMetadata.read(image);
        out.println(image + ": PNG, " + png.width() + "x" + png.height() + ", " + png.format());
        String parameters = png.text().get(GenerationSettings.KEY);
        out.println(parameters == null ? "no generation parameters" : parameters);
        for (Map.Entry<String, String> e : png.text().entrySet()) {
            if (!e.getKey().equals(GenerationSettings.KEY)) {
                out.println("[" + e.getKey() + "] " + e.getValue());
            }
        }
        out.flush();
        return 0;
    }
}
