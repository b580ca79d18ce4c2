// WeightSource.releasePages: the mapped pages of a source leave the process's resident memory, read as the kernel
// reports it (the Rss of the file's mapping in /proc/self/smaps; Linux only, skipped elsewhere), and the tensors read
// the same values afterwards. Heap tensors are left alone.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ReleasePagesTest {
    static final int N = 4 << 20;       // 16 MB of F32

    @Test
    void theMappedPagesLeaveResidentMemoryAndTheValuesStay(@TempDir Path dir) throws IOException {
        assumeTrue(ResidentMemory.available(), "needs Linux's /proc/self/smaps");
        float[] values = new float[N];
        for (int i = 0; i < N; i++) {
            values[i] = i * 0.25f - 3f;
        }
        Path file = dir.resolve("w.safetensors");
        SafetensorsWriter.write(file, Map.of("w", Tensor.of(values, N)));
        try (SafetensorsFile source = SafetensorsFile.open(file)) {
            assertArrayEquals(values, source.tensor("w").toFloatArray());          // every page read once
            long before = ResidentMemory.kb(file);
            assertTrue(before >= 15 * 1024, "after reading 16 MB, " + before + " kB of the mapping are resident");

            source.releasePages();
            long after = ResidentMemory.kb(file);
            assertTrue(after <= 64, "after releasePages, " + after + " kB of the mapping are still resident");
            assertArrayEquals(values, source.tensor("w").toFloatArray(), "the values read again from the file");
            assertTrue(ResidentMemory.kb(file) >= 15 * 1024, "read again, the pages are resident again");
        }
    }

    @Test
    void heapTensorsAreLeftAlone() {
        MapWeightSource heap = new MapWeightSource("heap").put("b", Tensor.of(new float[] {1, 2, 3}, 3));
        heap.releasePages();
        assertArrayEquals(new float[] {1, 2, 3}, heap.tensor("b").toFloatArray());
    }
}
