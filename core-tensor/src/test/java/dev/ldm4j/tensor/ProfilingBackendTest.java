// The profiling decorator must return exactly what the backend it wraps returns, and count what ran.
package dev.ldm4j.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProfilingBackendTest {
    static Tensor random(long seed, int... shape) {
        Random r = new Random(seed);
        float[] d = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) r.nextGaussian();
        }
        return Tensor.of(d, shape);
    }

    @Test
    void forwardsResultsUnchangedAndReportsEachOp() {
        Backend cpu = Backends.create("cpu");
        ProfilingBackend prof = new ProfilingBackend(cpu);
        Tensor a = random(1, 3, 5, 7);
        Tensor b = random(2, 3, 7, 4);
        assertArrayEquals(cpu.matmul(a, b).toFloatArray(), prof.matmul(a, b).toFloatArray());
        Tensor x = random(3, 2, 8, 6, 5);
        Tensor w = random(4, 4, 8, 3, 3);
        assertArrayEquals(cpu.conv2d(x, w, null, 1, 1).toFloatArray(), prof.conv2d(x, w, null, 1, 1).toFloatArray());
        String report = prof.report();
        assertTrue(report.contains("matmul") && report.contains("conv2d 3x3"), report);
    }

    @Test
    void countsTheFlopsOfProductsAndForgetsThemOnReset() {
        ProfilingBackend prof = new ProfilingBackend(Backends.create("cpu"));
        prof.matmul(random(1, 3, 5, 7), random(2, 3, 7, 4));                    // 2 * (3*5*4 outputs) * K 7
        prof.add(random(3, 6), random(4, 6));                                     // not a product: 0
        prof.conv2d(random(5, 2, 8, 6, 5), random(6, 4, 8, 3, 3), null, 1, 1);  // 2 * (2*6*5 pixels) * (4*8*3*3 weights)
        assertEquals(2L * 60 * 7 + 2L * 60 * 288, prof.totalFlops());
        prof.reset();
        assertEquals(0, prof.totalFlops());
        assertFalse(prof.report().contains("matmul"), prof.report());
    }

    @Test
    void byShapeKeepsOneRowPerOpAndOperandShapes() {
        ProfilingBackend prof = new ProfilingBackend(Backends.create("cpu"), true);
        prof.matmul(random(1, 3, 5, 7), random(2, 3, 7, 4));
        prof.matmul(random(3, 3, 5, 7), random(4, 3, 7, 4));
        prof.matmul(random(5, 2, 5), random(6, 5, 3));
        String report = prof.report();
        assertTrue(report.lines().anyMatch(l -> l.startsWith("matmul [3, 5, 7] [3, 7, 4] ") && l.split("\\s+")[7].equals("2")), report);
        assertTrue(report.lines().anyMatch(l -> l.startsWith("matmul [2, 5] [5, 3] ") && l.split("\\s+")[5].equals("1")), report);
        assertEquals(2L * 60 * 7 * 2 + 2L * 6 * 5, prof.totalFlops());
    }
}
