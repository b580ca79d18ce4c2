// Locates the shared conformance data (../shared beside the project root) for tests (in the tests jar of core-tensor).
// Tests call available() and skip when it is false, so a clone without ../shared still passes.
package dev.ldm4j.tensor;

import java.nio.file.Files;
import java.nio.file.Path;

public final class SharedFixtures {
    private SharedFixtures() {
    }

    /** The shared folder: -Dldm4j.shared, else the first "shared" sibling of the working directory or an ancestor. */
    public static Path root() {
        String prop = System.getProperty("ldm4j.shared");
        if (prop != null) {
            return Path.of(prop).toAbsolutePath();
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null && d.getParent() != null; d = d.getParent()) {
            Path candidate = d.resolveSibling("shared");
            if (Files.isDirectory(candidate.resolve("conformance"))) {
                return candidate;
            }
        }
        return Path.of("..", "shared").toAbsolutePath();
    }

    public static boolean available() {
        return Files.isDirectory(conformance());
    }

    public static Path conformance() {
        return root().resolve("conformance");
    }

    public static Path clip() {
        return root().resolve("clip");
    }
}
