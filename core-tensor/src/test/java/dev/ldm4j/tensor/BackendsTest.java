// Finding backends by name: unknown names and unsupported options are refused in one line.
package dev.ldm4j.tensor;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BackendsTest {
    @Test
    void cpuIsAlwaysThere() {
        try (Backend cpu = Backends.create("cpu", Map.of())) {
            assertEquals(Device.CPU, cpu.device());
        }
    }

    @Test
    void unknownDeviceNamesTheAvailableOnes() {
        var e = assertThrows(Backends.BackendUnavailableException.class, () -> Backends.create("tpu"));
        assertTrue(e.getMessage().contains("'tpu'") && e.getMessage().contains("cpu"), e.getMessage());
    }

    @Test
    void optionsADeviceDoesNotTakeAreRefusedNotIgnored() {
        var e = assertThrows(Backends.BackendUnavailableException.class, () -> Backends.create("cpu", Map.of("dtype", "fp16")));
        assertTrue(e.getMessage().contains("dtype"), e.getMessage());
    }
}
