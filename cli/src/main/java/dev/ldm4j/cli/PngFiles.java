// Writing the pipeline's images as PNG files: 8-bit RGB with diffusers' rounding (RgbImage.toRgb8) and
// text chunks (the generation parameters), written to a temporary file beside the target and moved
// into place, never over an existing file unless asked.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.pipeline.RgbImage;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

final class PngFiles {
    private PngFiles() {
    }

    /** Writes the image as an 8-bit RGB PNG; never replaces a file unless overwrite. */
    static void write(RgbImage image, Path file, boolean overwrite) {
        write(image, file, overwrite, Map.of());
    }

    /** As write(image, file, overwrite), with PNG text chunks (keyword -> text) such as the generation parameters. */
    static void write(RgbImage image, Path file, boolean overwrite, Map<String, String> text) {
        Path tmp = null;
        try {
            tmp = OutputFiles.createTempBeside(file);
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp))) {
                PngWriter.write(image.toRgb8(), image.width(), image.height(), text, out);
            }
            if (overwrite) {
                OutputFiles.keepMode(file, tmp);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.move(tmp, file);
            }
            tmp = null;
        } catch (FileAlreadyExistsException e) {
            throw new Main.UserError(file + " exists; pass --overwrite to replace it");
        } catch (IOException e) {
            throw new Main.UserError("cannot write " + file + ": " + dev.ldm4j.weights.IoErrors.reason(e));
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the error that brought us here is the one to report
                }
            }
        }
    }
}
