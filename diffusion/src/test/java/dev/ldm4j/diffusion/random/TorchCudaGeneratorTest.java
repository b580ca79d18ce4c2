// TorchCudaGenerator against torch.randn on a CUDA generator (randn.safetensors, cuda.* entries).
// The GPU computes cuRAND's Box-Muller with approximate __logf/__sincosf, so values are compared
// to within 4e-6 absolute (measured: at most 2e-6), not bit for bit; the Philox stream itself
// (which element gets which random bits, and the offset after a call) must be exact, which a
// tolerance this tight checks, since a wrong stream gives unrelated normals.
package dev.ldm4j.diffusion.random;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TorchCudaGeneratorTest {
    private static final double TOLERANCE = 4e-6;
    private static final long[] SEEDS = {0, 42, 1234567890123L};
    private static final List<String> SHAPES = List.of("4", "15", "16", "17", "33", "2x4x8x8", "1x4x64x64");

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - actual[i]);
            assertTrue(d <= TOLERANCE, what + ": element " + i + " is " + actual[i] + ", PyTorch on CUDA gave " + expected[i]);
        }
    }

    @Test
    void randnMatchesTorchOnCudaForEverySeedAndShape() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.conformance().resolve("randn.safetensors"))) {
            for (long seed : SEEDS) {
                for (String name : SHAPES) {
                    int[] shape = Arrays.stream(name.split("x")).mapToInt(Integer::parseInt).toArray();
                    assertClose(f.tensor("cuda." + seed + "." + name).toFloatArray(), new TorchCudaGenerator(seed).randn(shape), "seed " + seed + " shape " + name);
                }
            }
        }
    }

    @Test
    void secondCallStartsAtTheAdvancedOffset() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        try (SafetensorsFile f = SafetensorsFile.open(SharedFixtures.conformance().resolve("randn.safetensors"))) {
            for (long seed : SEEDS) {
                TorchCudaGenerator g = new TorchCudaGenerator(seed);
                g.randn(2, 4, 8, 8);
                assertClose(f.tensor("cuda." + seed + ".seq_second_3").toFloatArray(), g.randn(3), "seed " + seed + " second call");
            }
        }
    }

    @Test
    void aSmallGpuSpreadsElementsOverRoundsButAGridLargeEnoughDoesNot() {
        // 2 multiprocessors x 256 threads = 512 threads: 2048 values take one round of 4 normals per
        // thread, so element i + 512 k is normal k of thread i; a large GPU uses thread i for element i.
        float[] small = new TorchCudaGenerator(3, 2, 256).randn(2048);
        float[] large = new TorchCudaGenerator(3).randn(2048);
        assertEquals(large[0], small[0]);
        assertEquals(large[511], small[511]);
        float[] oneRound = new TorchCudaGenerator(3, 2, 256).randn(512 * 4);
        assertArrayEquals(small, oneRound);
        assertTrue(large[512] != small[512], "element 512 comes from thread 512 on the large grid, thread 0 on the small one");
    }
}
