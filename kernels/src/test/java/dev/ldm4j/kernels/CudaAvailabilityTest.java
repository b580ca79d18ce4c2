// The "cuda" backend is always discoverable; where it cannot run, asking for it fails with one line that
// says what is missing (this is the test that runs on machines without a GPU).
package dev.ldm4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ldm4j.tensor.BackendProvider;
import dev.ldm4j.tensor.Backends;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class CudaAvailabilityTest {
    private static BackendProvider cuda() {
        return Backends.providers().stream().filter(p -> p.name().equals("cuda")).findFirst()
                .orElseThrow(() -> new AssertionError("no 'cuda' BackendProvider found through ServiceLoader"));
    }

    private static boolean driverLibraryPresent() {
        try (Arena a = Arena.ofConfined()) {
            SymbolLookup.libraryLookup("libcuda.so.1", a);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    @Test
    void cudaProviderIsFoundByName() {
        assertEquals("cuda", cuda().name());
    }

    @Test
    void creatingCudaWithoutAUsableGpuFailsWithOneLineSayingWhy() {
        Optional<String> why = cuda().unavailableReason();
        Assumptions.assumeTrue(why.isPresent(), "CUDA is usable here, so there is no failure to check");
        var e = assertThrows(Backends.BackendUnavailableException.class, () -> Backends.create("cuda"));
        assertFalse(e.getMessage().contains("\n"), "reason must be one line: " + e.getMessage());
        assertTrue(e.getMessage().contains(why.get()), e.getMessage());
        if (!driverLibraryPresent()) {
            assertTrue(why.get().contains("libcuda.so.1"), "without the driver library the reason must name it: " + why.get());
        }
    }

    @Test
    void reasonIsStableAcrossCalls() {
        assertEquals(cuda().unavailableReason(), cuda().unavailableReason());
    }
}
