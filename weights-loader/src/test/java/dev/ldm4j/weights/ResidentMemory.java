// How much of a file's memory mapping is resident in this process, as the kernel reports it: the Rss lines of the
// file's mappings in /proc/self/smaps (Linux). Tests of WeightSource.releasePages and of the pipelines that call it.
package dev.ldm4j.weights;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

public final class ResidentMemory {
    private static final Path SMAPS = Path.of("/proc/self/smaps");

    private ResidentMemory() {
    }

    /** Whether this system reports per-mapping residency (Linux's /proc/self/smaps). */
    public static boolean available() {
        return Files.isReadable(SMAPS);
    }

    /** The Rss of every mapping of file, in kB; throws when the file is not mapped at all. */
    public static long kb(Path file) throws IOException {
        String name = file.toRealPath().toString();
        long kb = 0;
        boolean inFile = false;
        int mappings = 0;
        for (String line : Files.readAllLines(SMAPS)) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                inFile = line.endsWith(" " + name);
                mappings += inFile ? 1 : 0;
            } else if (inFile && line.startsWith("Rss:")) {
                kb += Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        if (mappings == 0) {
            throw new IllegalStateException(name + " is not mapped");
        }
        return kb;
    }
}
