// Run-time compilation as far as it can be checked without a GPU: the kernel sources travel in the jar
// unchanged, the choice between bundled PTX and NVRTC (with its exact one-line reasons), and that a
// missing NVRTC is reported as a reason rather than thrown. Compiling with NVRTC itself needs CUDA 12's
// libnvrtc.so.12 and is not exercised here.
package dev.ldm4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class NvrtcFallbackTest {
    private static final Path CUDA = Path.of("src/main/cuda");
    private static final Supplier<Nvrtc.Status> NVRTC_12_4 = () -> new Nvrtc.Status(12040, null);

    private static List<Path> sources() throws IOException {
        try (Stream<Path> s = Files.list(CUDA)) {
            return s.filter(p -> p.toString().endsWith(".cu") || p.toString().endsWith(".cuh")).sorted().toList();
        }
    }

    @Test
    void everyKernelSourceAndHeaderIsBundledByteForByte() throws IOException {
        Assumptions.assumeTrue(Files.isDirectory(CUDA), "run from the kernels module directory");
        List<Path> files = sources();
        assertFalse(files.isEmpty());
        for (Path f : files) {
            String name = f.getFileName().toString();
            try (InputStream in = Nvrtc.class.getResourceAsStream("cuda/" + name)) {
                assertNotNull(in, "dev/ldm4j/kernels/cuda/" + name + " is not on the class path");
                assertArrayEquals(Files.readAllBytes(f), in.readAllBytes(), name + " differs from its bundled copy");
            }
        }
    }

    @Test
    void headerListNamesEveryHeaderAndModuleListEverySource() throws IOException {
        Assumptions.assumeTrue(Files.isDirectory(CUDA), "run from the kernels module directory");
        List<String> names = sources().stream().map(p -> p.getFileName().toString()).toList();
        assertEquals(names.stream().filter(n -> n.endsWith(".cuh")).toList(), Nvrtc.HEADERS);
        assertEquals(names.stream().filter(n -> n.endsWith(".cu")).map(n -> n.substring(0, n.length() - 3)).toList(), Ptx.MODULES);
        for (String m : Ptx.MODULES) {
            assertFalse(Nvrtc.source(m + ".cu").isEmpty(), m);
        }
    }

    @Test
    void ptxVersionLineMapsToCudaRelease() {
        // PTX ISA 9.0 came with CUDA 13.0, 8.4 with CUDA 12.4 (NVIDIA, PTX ISA release notes).
        assertArrayEquals(new int[] {8, 4}, Ptx.isaVersion("//\n// Generated\n.version 8.4\n.target sm_80\n"));
        assertEquals(12040, Ptx.requiredDriverVersion(new int[] {8, 4}));
        assertEquals("12.4", Ptx.cudaVersionLabel(12040));
        assertEquals("13.0", Ptx.cudaVersionLabel(Ptx.requiredDriverVersion(Ptx.isaVersion(Ptx.source("gemm")))));
        assertThrows(IllegalStateException.class, () -> Ptx.isaVersion(".target sm_80\n"));
    }

    @Test
    void newEnoughDriverUsesBundledPtxWithoutAskingNvrtc() {
        AtomicInteger asked = new AtomicInteger();
        Supplier<Nvrtc.Status> nvrtc = () -> {
            asked.incrementAndGet();
            return new Nvrtc.Status(0, "libnvrtc.so.12 not found");
        };
        assertEquals(new PtxSource.Choice(PtxSource.BUNDLED, null), PtxSource.choose(13000, 13000, nvrtc));
        assertEquals(new PtxSource.Choice(PtxSource.BUNDLED, null), PtxSource.choose(13020, 13000, nvrtc));
        assertEquals(0, asked.get());
    }

    @Test
    void olderDriverCompilesAtRunTimeWhenNvrtcIsNoNewerThanIt() {
        assertEquals(new PtxSource.Choice(PtxSource.NVRTC, null), PtxSource.choose(12040, 13000, NVRTC_12_4));
        assertEquals(new PtxSource.Choice(PtxSource.NVRTC, null), PtxSource.choose(12080, 13000, NVRTC_12_4));
    }

    @Test
    void olderDriverWithoutNvrtcGivesOneLineNamingBoth() {
        PtxSource.Choice c = PtxSource.choose(12040, 13000, () -> new Nvrtc.Status(0, "libnvrtc.so.12 not found"));
        assertNull(c.source());
        assertEquals("the bundled PTX needs a CUDA 13.0 driver (this one supports CUDA 12.4) and run-time compilation is unavailable: "
                + "libnvrtc.so.12 not found", c.unavailable());
    }

    @Test
    void nvrtcNewerThanTheDriverIsRefused() {
        PtxSource.Choice c = PtxSource.choose(12020, 13000, NVRTC_12_4);
        assertNull(c.source());
        assertEquals("the bundled PTX needs a CUDA 13.0 driver (this one supports CUDA 12.2) and run-time compilation is unavailable: "
                + "libnvrtc.so.12 is from CUDA 12.4, newer than the driver; update the driver or use an NVRTC no newer than it", c.unavailable());
    }

    @Test
    void missingNvrtcIsAReasonNotAnException() {
        boolean present;
        try (Arena a = Arena.ofConfined()) {
            SymbolLookup.libraryLookup(Nvrtc.LIBRARY, a);
            present = true;
        } catch (IllegalArgumentException e) {
            present = false;
        }
        Assumptions.assumeFalse(present, "libnvrtc.so.12 is installed here");
        Nvrtc.Status s = Nvrtc.status();
        assertEquals(new Nvrtc.Status(0, "libnvrtc.so.12 not found"), s);
        var e = assertThrows(IllegalStateException.class, () -> Nvrtc.ptx("convert", 80));
        assertEquals("cannot compile convert.cu at run time: libnvrtc.so.12 not found", e.getMessage());
    }

    @Test
    void architectureIsTheNewestSupportedOneTheDeviceCanRun() {
        int[] supported = {50, 52, 60, 70, 75, 80, 86, 89, 90};
        assertEquals(86, Nvrtc.chooseArchitecture(86, supported));
        assertEquals(90, Nvrtc.chooseArchitecture(120, supported));
        assertEquals(80, Nvrtc.chooseArchitecture(80, supported));
        assertEquals(87, Nvrtc.chooseArchitecture(87, new int[] {90}));
        assertTrue(Nvrtc.options(86).containsAll(List.of("--gpu-architecture=compute_86", "-std=c++17")));
    }

    @Test
    void compileFailureIsReportedByTheLogsFirstErrorLine() {
        String log = "gemm.cu(12): warning: variable \"x\" was declared but never referenced\n"
                + "gemm.cu(40): error: identifier \"tile\" is undefined\n"
                + "gemm.cu(41): error: expected a \";\"\n\n2 errors detected in the compilation of \"gemm.cu\".\n";
        assertEquals("gemm.cu(40): error: identifier \"tile\" is undefined", Nvrtc.firstError(log));
        assertEquals("some note", Nvrtc.firstError("\n  some note\nmore\n"));
        assertEquals("(empty compiler log)", Nvrtc.firstError(""));
    }
}
