// Checks that the committed PTX matches the CUDA sources: each src/main/cuda/*.cu has a PTX resource whose
// first line records the SHA-256 of that .cu followed by every .cuh (name order), as build-ptx.sh writes.
package dev.ldm4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class PtxFreshnessTest {
    private static final Path CUDA = Path.of("src/main/cuda");
    private static final Path PTX = Path.of("src/main/resources/dev/ldm4j/kernels/ptx");

    private static List<Path> list(Path dir, String suffix) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(suffix)).sorted().toList();
        }
    }

    private static String stem(Path p, String suffix) {
        String n = p.getFileName().toString();
        return n.substring(0, n.length() - suffix.length());
    }

    @Test
    void everyKernelSourceHasPtxBuiltFromItsCurrentText() throws IOException, NoSuchAlgorithmException {
        Assumptions.assumeTrue(Files.isDirectory(CUDA), "run from the kernels module directory (sources not found at " + CUDA.toAbsolutePath() + ")");
        List<Path> headers = list(CUDA, ".cuh");
        List<Path> sources = list(CUDA, ".cu");
        assertTrue(!sources.isEmpty(), "no .cu files under " + CUDA);
        for (Path cu : sources) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(Files.readAllBytes(cu));
            for (Path h : headers) {
                sha.update(Files.readAllBytes(h));
            }
            String expected = "// ldm4j-source-sha256: " + HexFormat.of().formatHex(sha.digest());
            Path ptx = PTX.resolve(stem(cu, ".cu") + ".ptx");
            assertTrue(Files.exists(ptx), ptx + " is missing; run kernels/src/main/cuda/build-ptx.sh (needs nvcc) and commit the PTX");
            String first = Files.readAllLines(ptx).getFirst();
            assertEquals(expected, first, cu + " (or a .cuh it includes) changed but " + ptx.getFileName()
                    + " was not rebuilt; run kernels/src/main/cuda/build-ptx.sh (needs nvcc) and commit the PTX");
        }
    }

    @Test
    void everyPtxHasASourceAndIsLoadedByTheBackend() throws IOException {
        Assumptions.assumeTrue(Files.isDirectory(CUDA), "run from the kernels module directory");
        TreeSet<String> cu = new TreeSet<>(), ptx = new TreeSet<>();
        list(CUDA, ".cu").forEach(p -> cu.add(stem(p, ".cu")));
        list(PTX, ".ptx").forEach(p -> ptx.add(stem(p, ".ptx")));
        assertEquals(cu, ptx, "PTX files without a .cu source (or the reverse)");
        assertEquals(cu, new TreeSet<>(Ptx.MODULES), "Ptx.MODULES must list every kernel family");
    }

    @Test
    void ptxIsaVersionMapsToTheCudaReleaseThatIntroducedIt() {
        // PTX ISA 9.0 shipped with CUDA 13.0, 8.0 with CUDA 12.0, 7.8 with CUDA 11.8.
        assertEquals(13000, Ptx.requiredDriverVersion(new int[] {9, 0}));
        assertEquals(12000, Ptx.requiredDriverVersion(new int[] {8, 0}));
        assertEquals(11080, Ptx.requiredDriverVersion(new int[] {7, 8}));
        assertEquals(9, Ptx.isaVersion(Ptx.source("convert"))[0]);
    }
}
