// The profiling decorator must return exactly what the backend it wraps returns, and count what ran.
package dev.ldm4j.tensor;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
}
