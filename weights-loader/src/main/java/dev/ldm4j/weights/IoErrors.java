// Why a file operation failed, in words a user reads ("permission denied", "no space left on device"),
// without the Java exception's class name or the path the caller already names.
package dev.ldm4j.weights;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Locale;

public final class IoErrors {
    private IoErrors() {
    }

    /** The reason of an I/O failure: the operating system's words where it gave them, lower-cased. */
    public static String reason(IOException e) {
        return switch (e) {
            case AccessDeniedException a -> "permission denied";
            case NoSuchFileException n -> "no such file or folder";
            case FileAlreadyExistsException x -> "file exists";
            case NotDirectoryException d -> "not a folder";
            case DirectoryNotEmptyException d -> "folder not empty";
            case FileSystemException f when f.getReason() != null -> lowerFirst(f.getReason());
            default -> e.getMessage() == null || e.getMessage().isBlank() ? "input/output error" : lowerFirst(e.getMessage().strip());
        };
    }

    private static String lowerFirst(String s) {
        return s.isEmpty() ? s : s.substring(0, 1).toLowerCase(Locale.ROOT) + s.substring(1);
    }
}
