// The run summary's memory part: the device's peak appears only for a device that reports one.
package dev.ldm4j.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryTest {
    @Test
    void theGpuPeakIsShownOnlyWhenTheDeviceReportsOne() {
        String cpu = Memory.peakSummary(-1);
        assertTrue(cpu.startsWith("peak RSS ") && cpu.contains("peak heap "), cpu);
        assertFalse(cpu.contains("GPU"), cpu);
        String gpu = Memory.peakSummary(2_134_000_000L);
        assertTrue(gpu.endsWith(", peak GPU memory 2.13 GB"), gpu);
    }
}
