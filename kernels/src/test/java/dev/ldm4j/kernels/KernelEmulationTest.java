// Runs the kernel checks of src/test/emu: each *_check.cpp includes a kernel file of src/main/cuda,
// compiled as C++ for the CPU emulator (emu.h), launches its kernels on small odd-sized inputs and
// compares them with a float64 reference, exiting non-zero on a mismatch. This checks indexing,
// tiling, masking, tensor-core fragment layouts and cp.async wait placement without a GPU (not speed,
// not data races). It needs g++
// (C++20) and the CUDA toolkit's cuda_fp16.h (CUDA_HOME/include or /usr/local/cuda/include) and is
// skipped where either is missing.
package dev.ldm4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

class KernelEmulationTest {
    private static final Path EMU = Path.of("src/test/emu");
    private static final Path CUDA = Path.of("src/main/cuda");
    private static final Path OUT = Path.of("target/emu");

    private static Path cudaInclude() {
        List<Path> candidates = new ArrayList<>();
        for (String env : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) candidates.add(Path.of(v, "include"));
        }
        candidates.add(Path.of("/usr/local/cuda/include"));
        return candidates.stream().filter(p -> Files.exists(p.resolve("cuda_fp16.h"))).findFirst().orElse(null);
    }

    private static boolean hasGpp() {
        try {
            Process p = new ProcessBuilder("g++", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static String run(List<String> command, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "timed out after " + timeoutSeconds + " s: " + String.join(" ", command);
        }
        String text = new String(out);
        return p.exitValue() == 0 ? null : "exit " + p.exitValue() + " from " + command.getFirst() + ":\n" + text;
    }

    @TestFactory
    Stream<DynamicTest> eachEmulatedKernelCheckPasses() throws IOException {
        Assumptions.assumeTrue(Files.isDirectory(EMU), "run from the kernels module directory");
        Path include = cudaInclude();
        Assumptions.assumeTrue(include != null, "cuda_fp16.h not found (set CUDA_HOME); emulated kernel checks skipped");
        Assumptions.assumeTrue(hasGpp(), "g++ not found; emulated kernel checks skipped");
        Files.createDirectories(OUT);
        List<Path> checks;
        try (Stream<Path> s = Files.list(EMU)) {
            checks = s.filter(p -> p.getFileName().toString().endsWith("_check.cpp")).sorted().toList();
        }
        // Each check twice: cp.async copies held until their wait (a missing wait fails), and landing at
        // once (a refill issued while other threads still read the buffer can then fail; it is a race, so
        // not every run shows it).
        return checks.stream().flatMap(src -> Stream.of(false, true).map(immediate -> DynamicTest.dynamicTest(
                src.getFileName() + (immediate ? " (cp.async immediate)" : " (cp.async deferred)"), () -> {
            String name = src.getFileName().toString().replace(".cpp", "") + (immediate ? "_immediate" : "");
            Path exe = OUT.resolve(name);
            List<String> compile = new ArrayList<>(List.of("g++", "-std=c++20", "-O1", "-pthread", "-w", "-I" + include, "-I" + CUDA, "-I" + EMU));
            if (immediate) {
                compile.add("-DLDM4J_EMU_CP_ASYNC_IMMEDIATE");
            }
            compile.addAll(List.of(src.toString(), "-o", exe.toString()));
            assertEquals(null, run(compile, 300), "compiling " + src);
            assertEquals(null, run(List.of(exe.toAbsolutePath().toString()), 600), name);
        })));
    }
}
