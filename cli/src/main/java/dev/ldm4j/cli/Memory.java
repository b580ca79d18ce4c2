// Peak memory of this process, for the one-line summary at the end of a run.
package dev.ldm4j.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

final class Memory {
    private Memory() {
    }

    /** Peak resident set size in bytes (VmHWM from /proc/self/status), or -1 where that is not available. */
    static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    String[] parts = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(parts[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** Sum of the heap pools' peak usage in bytes (an upper bound on the live heap at any moment). */
    static long peakHeapBytes() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }

    /** Peak RSS and heap, and the device's peak (weights, activations and allocator cache) when deviceBytes >= 0. */
    static String peakSummary(long deviceBytes) {
        long rss = peakRssBytes();
        return String.format(Locale.ROOT, "peak RSS %s, peak heap %.2f GB%s", rss < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f GB", rss / 1e9),
                peakHeapBytes() / 1e9, deviceBytes < 0 ? "" : String.format(Locale.ROOT, ", peak GPU memory %.2f GB", deviceBytes / 1e9));
    }
}
