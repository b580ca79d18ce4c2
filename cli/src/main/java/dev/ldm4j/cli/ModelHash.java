// The "Model hash" and "Model" of the generation parameters. A1111's short hash is the first 10 hex
// digits of the SHA-256 of the checkpoint file; ldm4j gives a single file that hash, so it matches the
// web UI's for the same file. A diffusers folder has no one file: its hash is that of the U-Net's weights
// file, the one the loader reads (unet/diffusion_pytorch_model.safetensors, else the shards' index
// .safetensors.index.json, else the .fp16 variants of both), the part that most decides the image.
// The name is the file's name without .safetensors, or the folder's name (a built-in model's name).
// Hashing a 2 GB checkpoint takes about 1.8 s of one core, so the hashes are kept, as the web UI keeps
// them, in a small table beside the running jar (cli/target/cache/model-hashes.tsv), keyed by the file's
// absolute path, size and modification time: a file changed in any of these is hashed again. The table is
// only a cache: a missing, unreadable or malformed one is ignored, and a failed write loses nothing.
package dev.ldm4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

final class ModelHash {
    /** Entries the table keeps (the most recent). */
    static final int CACHE_ENTRIES = 200;

    private ModelHash() {
    }

    /** The name a model is written under. */
    static String name(Path model) {
        String n = model.toAbsolutePath().normalize().getFileName().toString();
        return n.endsWith(".safetensors") ? n.substring(0, n.length() - ".safetensors".length()) : n;
    }

    /** The first 10 hex digits of the SHA-256 of the model's file (a folder: its U-Net weights file). */
    static String shortHash(Path model) {
        return shortHash(model, defaultCache());
    }

    /** As above, with the table of known hashes at cache (null: none). */
    static String shortHash(Path model, Path cache) {
        Path file = hashedFile(model);
        String key = cacheKey(file);
        if (cache != null && key != null) {
            String known = lookup(cache, key);
            if (known != null) {
                return known;
            }
        }
        String hash = sha256Short(file);
        if (cache != null && key != null) {
            remember(cache, key, hash);
        }
        return hash;
    }

    private static String sha256Short(Path file) {
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

    /** "size TAB modification time in ns TAB absolute path" of file, or null when its attributes cannot be read. */
    static String cacheKey(Path file) {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            String path = file.toAbsolutePath().normalize().toString();
            if (path.indexOf('\n') >= 0 || path.indexOf('\t') >= 0) {
                return null;
            }
            return a.size() + "\t" + a.lastModifiedTime().to(TimeUnit.NANOSECONDS) + "\t" + path;
        } catch (IOException e) {
            return null;
        }
    }

    /** The hash the table holds for key (lines "hash TAB key"), or null. */
    static String lookup(Path cache, String key) {
        try {
            for (String line : Files.readAllLines(cache)) {
                int tab = line.indexOf('\t');
                if (tab == 10 && line.substring(tab + 1).equals(key) && line.substring(0, 10).matches("[0-9a-f]{10}")) {
                    return line.substring(0, 10);
                }
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return null;
    }

    /**
     * Adds "hash TAB key" to the table, replacing any line of the same path (an older size or time of the file), and
     * keeps the last CACHE_ENTRIES; the table is written whole, then moved into place.
     */
    static void remember(Path cache, String key, String hash) {
        try {
            List<String> lines = new ArrayList<>();
            String path = key.split("\t", 3)[2];
            if (Files.isRegularFile(cache)) {
                for (String line : Files.readAllLines(cache)) {
                    String[] f = line.split("\t", 4);
                    if (f.length == 4 && f[0].length() == 10 && !f[3].equals(path)) {
                        lines.add(line);
                    }
                }
            }
            lines.add(hash + "\t" + key);
            List<String> kept = lines.subList(Math.max(0, lines.size() - CACHE_ENTRIES), lines.size());
            Files.createDirectories(cache.getParent());
            Path tmp = Files.createTempFile(cache.getParent(), "model-hashes", ".tmp");
            try {
                Files.write(tmp, kept);
                Files.move(tmp, cache, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException | RuntimeException e) {
            // only a cache: the hash was computed and is returned all the same
        }
    }

    /** cli/target/cache/model-hashes.tsv beside the running jar (or classes folder); null when that is not a file system path. */
    static Path defaultCache() {
        try {
            Path code = Path.of(ModelHash.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return code.toAbsolutePath().getParent().resolve("cache").resolve("model-hashes.tsv");
        } catch (Exception e) {
            return null;
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
