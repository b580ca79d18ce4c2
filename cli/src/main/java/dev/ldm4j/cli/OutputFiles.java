// The files a command will write, checked before any work starts (each is new or may be replaced, its
// folder exists and takes a new file, no two name the same file), and the two things every write
// here does the same way: a temporary file beside the target with the umask's permissions, and on
// replacing a file, that file's permissions kept.
package dev.ldm4j.cli;

import dev.ldm4j.weights.IoErrors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

final class OutputFiles {
    private OutputFiles() {
    }

    /**
     * Refuses, in one line, an output that a run could not write at its end: an existing file
     * (unless overwrite), a folder, a symbolic link to nothing, a missing folder, or a folder that
     * takes no new file (read-only, no permission, a pseudo file system such as /sys).
     *
     * @param flag the option that named the file, for the message
     */
    static void checkWritable(Path file, String flag, boolean overwrite) {
        if (Files.isDirectory(file)) {
            throw new Main.UserError(flag + " " + file + " is a folder; name a file");
        }
        if (Files.isSymbolicLink(file) && !Files.exists(file)) {
            throw new Main.UserError(flag + " " + file + " is a symbolic link to " + linkTarget(file)
                    + ", which does not exist; remove the link or choose another " + flag);
        }
        if (Files.exists(file, LinkOption.NOFOLLOW_LINKS) && !overwrite) {
            throw new Main.UserError(file + " exists; pass --overwrite to replace it, or choose another " + flag);
        }
        Path dir = file.toAbsolutePath().getParent();
        if (dir == null) {
            throw new Main.UserError(flag + " " + file + " names no file");
        }
        if (!Files.exists(dir)) {
            throw new Main.UserError("cannot write " + file + ": the folder " + dir + " does not exist");
        }
        if (!Files.isDirectory(dir)) {
            throw new Main.UserError("cannot write " + file + ": " + dir + " is not a folder");
        }
        Path probe = null;
        try {
            probe = createTempBeside(file);
        } catch (IOException e) {
            throw new Main.UserError("cannot write " + file + ": " + IoErrors.reason(e) + " (in " + dir + ")");
        } finally {
            if (probe != null) {
                try {
                    Files.deleteIfExists(probe);
                } catch (IOException ignored) {
                    // a leftover empty hidden file; the folder is writable, which is what was asked
                }
            }
        }
    }

    /** Refuses two outputs that are one file, however spelled (relative, with "..", through a link). */
    static void checkDistinct(Path a, String flagA, Path b, String flagB) {
        if (identity(a).equals(identity(b)) || sameExistingFile(a, b)) {
            throw new Main.UserError(flagA + " " + a + " and " + flagB + " " + b + " name the same file; give them different names");
        }
    }

    /**
     * A new, empty, hidden file in the target's folder, created with the permissions the umask gives
     * new files (Files.createTempFile would make it owner-only, and the move would carry that over).
     */
    static Path createTempBeside(Path target) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        String name = "." + target.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp";
        return Files.createFile(dir.resolve(name));
    }

    /** Gives tmp the permissions of the file it is about to replace, so --overwrite never changes who may read it. */
    static void keepMode(Path replaced, Path tmp) throws IOException {
        if (Files.exists(replaced)) {
            try {
                Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(replaced));
            } catch (UnsupportedOperationException notPosix) {
                // no POSIX permissions on this file system: nothing to keep
            }
        }
    }

    /** The file a path will name once written: links and ".." resolved as far as the path exists. */
    private static Path identity(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        try {
            if (Files.exists(abs)) {
                return abs.toRealPath();
            }
            Path dir = abs.getParent();
            return dir != null && Files.exists(dir) ? dir.toRealPath().resolve(abs.getFileName()) : abs;
        } catch (IOException e) {
            return abs;
        }
    }

    private static boolean sameExistingFile(Path a, Path b) {
        try {
            return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
        } catch (IOException e) {
            return false;
        }
    }

    private static String linkTarget(Path link) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException e) {
            return "a missing file";
        }
    }
}
