// The "Model hash" and "Model" of the generation parameters. A1111's short hash is the first 10 hex
// digits of the SHA-256 of the checkpoint file; ldm4j gives a single file that hash, so it matches the
// web UI's for the same file. A diffusers folder has no one file: its hash is that of the U-Net's weights
// file, the one the loader reads (unet/diffusion_pytorch_model.safetensors, else the shards' index
// .safetensors.index.json, else the .fp16 variants of both), the part that most decides the image.
// The name is the file's name without .safetensors, or the folder's name (a built-in model's name).
package dev.ldm4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

final class ModelHash {
    private ModelHash() {
    }

    /** The name a model is written under. */
    static String name(Path model) {
        String n = model.toAbsolutePath().normalize().getFileName().toString();
        return n.endsWith(".safetensors") ? n.substring(0, n.length() - ".safetensors".length()) : n;
    }

    /** The first 10 hex digits of the SHA-256 of the model's file (a folder: its U-Net weights file). */
    static String shortHash(Path model) {
        Path file = hashedFile(model);
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                sha.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(sha.digest()).substring(0, 10);
        } catch (IOException e) {
            throw new Main.UserError(file + ": cannot read to hash it: " + Main.oneLine(e.getMessage()));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this Java runtime has no SHA-256", e);
        }
    }

    /** The file shortHash reads. */
    static Path hashedFile(Path model) {
        if (!Files.isDirectory(model)) {
            return model;
        }
        Path unet = model.resolve("unet");
        for (String name : new String[] {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json",
                "diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.fp16.safetensors.index.json"}) {
            if (Files.isRegularFile(unet.resolve(name))) {
                return unet.resolve(name);
            }
        }
        throw new Main.UserError(model + ": no U-Net weights file to hash in " + unet);
    }
}
