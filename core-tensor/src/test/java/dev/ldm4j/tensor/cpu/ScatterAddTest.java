// Checks the gradient scatter-adds of the fast CPU backend and its scalar twin: embeddingBackward with repeated and
// unused ids, zeros, and accumulate into dense targets and into views (zero-stride broadcasts whose aliased
// elements must receive the sum of their contributions, transposed and strided views, slices, overlapping windows),
// each against a sum computed here in double (relative <= 1e-6) and fast against twin (relative <= 1e-5).
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScatterAddTest {
    static final double EXACT_TOL = 1e-6;
    static final double TWIN_TOL = 1e-5;
    final CpuBackend fast = new CpuBackend();
    final CpuReference ref = new CpuReference();
    final Random rng = new Random(20261203);

    float[] randArray(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rng.nextGaussian();
        }
        return a;
    }

    Tensor rand(int... shape) {
        return Tensor.of(randArray(Math.toIntExact(Tensor.numel(shape))), shape);
    }

    static double relErr(float[] out, double[] expected) {
        double num = 0, den = 0;
        for (int i = 0; i < out.length; i++) {
            num += (out[i] - expected[i]) * (out[i] - expected[i]);
            den += expected[i] * expected[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    static double[] doubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    // ---- embeddingBackward ----

    @Test
    void embeddingBackwardSumsRowsOfRepeatedIdsAndLeavesUnusedRowsZero() {
        int[] ids = {3, 0, 3, 5, 3, 1};
        int rows = 7, d = 37;
        Tensor dy = rand(ids.length, d);
        double[] expected = new double[rows * d];
        for (int i = 0; i < ids.length; i++) {
            for (int j = 0; j < d; j++) {
                expected[ids[i] * d + j] += dy.getFloat(i, j);
            }
        }
        for (Backend be : new Backend[] {fast, ref}) {
            Tensor g = be.embeddingBackward(dy, ids, rows);
            assertArrayEquals(new int[] {rows, d}, g.shape());
            float[] out = g.toFloatArray();
            assertTrue(relErr(out, expected) <= EXACT_TOL, be.name() + ": " + relErr(out, expected));
            for (int j = 0; j < d; j++) {
                assertEquals(0f, out[2 * d + j], be.name() + " unused row 2");
                assertEquals(0f, out[6 * d + j], be.name() + " unused row 6");
                assertEquals(dy.getFloat(3, j), out[5 * d + j], be.name() + " row 5 has one contribution");
            }
        }
    }

    @Test
    void embeddingBackwardMatchesTwinOnWideRowsAndStridedDy() {
        int[] ids = new int[50];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rng.nextInt(11);
        }
        Tensor dy = rand(ids.length, 1001);
        assertTrue(relErr(fast.embeddingBackward(dy, ids, 11).toFloatArray(), doubles(ref.embeddingBackward(dy, ids, 11).toFloatArray())) <= TWIN_TOL);
        Tensor dyt = CpuBackendTest.transposedView(rand(ids.length, 33));
        assertTrue(relErr(fast.embeddingBackward(dyt, ids, 12).toFloatArray(), doubles(ref.embeddingBackward(dyt, ids, 12).toFloatArray())) <= TWIN_TOL);
        var e = assertThrows(IllegalArgumentException.class, () -> fast.embeddingBackward(dy, ids, 5));
        assertTrue(e.getMessage().startsWith("embeddingBackward:"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> fast.embeddingBackward(rand(3, 4), new int[] {0, 1}, 5));
    }

    // ---- zeros and accumulate ----

    @Test
    void zerosIsADenseF32BufferOfZeros() {
        for (Backend be : new Backend[] {fast, ref}) {
            Tensor z = be.zeros(3, 0, 2);
            assertArrayEquals(new int[] {3, 0, 2}, z.shape());
            Tensor y = be.zeros(2, 5);
            assertArrayEquals(new float[10], y.data());
            assertEquals(DType.F32, y.dtype());
            assertThrows(IllegalArgumentException.class, () -> be.zeros(2, -1));
        }
    }

    /**
     * Runs accumulate with each backend on its own copy of a buffer (random contents of the given size), the target
     * being view(buffer); checks the buffer against buffer + the contributions summed here in double (each logical
     * index of the target adds src at that index to the storage element it maps to), and fast against twin.
     */
    void accumulateCase(String what, int bufferSize, Function<Tensor, Tensor> view, Tensor src) {
        float[] start = randArray(bufferSize);
        float[][] results = new float[2][];
        Backend[] backends = {fast, ref};
        double[] expected = doubles(start);
        Tensor probe = view.apply(Tensor.of(start.clone(), bufferSize));
        Tensor sb = src.broadcastTo(probe.shape());
        int[] shape = probe.shape();
        int[] idx = new int[shape.length];
        for (long e = 0; e < probe.numel(); e++) {
            expected[Math.toIntExact(probe.index(idx))] += sb.getFloat(idx);
            for (int i = shape.length - 1; i >= 0; i--) {
                if (++idx[i] < shape[i]) {
                    break;
                }
                idx[i] = 0;
            }
        }
        for (int b = 0; b < 2; b++) {
            float[] buffer = start.clone();
            backends[b].accumulate(view.apply(Tensor.of(buffer, bufferSize)), src);
            results[b] = buffer;
            double err = relErr(buffer, expected);
            assertTrue(err <= EXACT_TOL, backends[b].name() + " " + what + ": relative error " + err);
        }
        assertTrue(relErr(results[0], doubles(results[1])) <= TWIN_TOL, what + ": fast vs twin");
    }

    @Test
    void accumulateIntoDenseTargets() {
        accumulateCase("dense [3, 5, 7]", 105, t -> t.reshape(3, 5, 7), rand(3, 5, 7));
        accumulateCase("dense, src broadcast [5, 1]", 105, t -> t.reshape(3, 5, 7), rand(5, 1));
        accumulateCase("dense, src transposed view", 15 * 17, t -> t.reshape(15, 17), CpuBackendTest.transposedView(rand(15, 17)));
        accumulateCase("large dense [64, 1001] (parallel rows)", 64 * 1001, t -> t.reshape(64, 1001), rand(64, 1001));
        accumulateCase("F16 src", 35, t -> t.reshape(5, 7), CpuBackendTest.half(rand(5, 7), DType.F16));
        accumulateCase("scalar", 1, t -> t.reshape(), rand());
    }

    @Test
    void accumulateIntoZeroStrideBroadcastsSumsEveryContribution() {
        accumulateCase("bias [1, 5, 1, 1] as [2, 5, 3, 4]", 5, t -> t.reshape(1, 5, 1, 1).broadcastTo(2, 5, 3, 4), rand(2, 5, 3, 4));
        accumulateCase("bias [4] as [6, 4]", 4, t -> t.broadcastTo(6, 4), rand(6, 4));
        accumulateCase("bias [4] as [6, 4], src transposed", 4, t -> t.broadcastTo(6, 4), CpuBackendTest.transposedView(rand(6, 4)));
        accumulateCase("[3, 1] as [3, 40000]", 3, t -> t.reshape(3, 1).broadcastTo(3, 40000), rand(3, 40000));
        accumulateCase("scalar as [7, 9]", 1, t -> t.reshape().broadcastTo(7, 9), rand(7, 9));
        accumulateCase("[3] as [4, 3] from a broadcast src [1, 3]", 3, t -> t.broadcastTo(4, 3), rand(1, 3));
        accumulateCase("[2, 1, 3] as [2, 5, 3], transposed", 6, t -> t.reshape(2, 1, 3).broadcastTo(2, 5, 3).transpose(1, 2), rand(2, 3, 5));
    }

    @Test
    void accumulateIntoStridedViewsAndSlices() {
        accumulateCase("transposed [7, 5] of [5, 7]", 35, t -> t.reshape(5, 7).transpose(0, 1), rand(7, 5));
        accumulateCase("column slice [4, 4] of [4, 6]", 24, t -> t.reshape(4, 6).slice(1, 1, 5), rand(4, 4));
        accumulateCase("row and column slice", 24, t -> t.reshape(4, 6).slice(0, 1, 3).slice(1, 2, 6), rand(2, 4));
        accumulateCase("every other element", 20, t -> new Tensor(t.storage(), new int[] {10}, new long[] {2}, 1), rand(10));
        accumulateCase("large transposed [700, 300]", 210000, t -> t.reshape(300, 700).transpose(0, 1), rand(700, 300));
        // windows of 3 sliding by 1 over 5 elements: non-zero strides that still alias
        accumulateCase("overlapping windows [3, 3] strides (1, 1)", 5, t -> new Tensor(t.storage(), new int[] {3, 3}, new long[] {1, 1}, 0), rand(3, 3));
    }

    @Test
    void accumulateAddsToWhatIsThere() {
        for (Backend be : new Backend[] {fast, ref}) {
            Tensor g = be.zeros(2, 3);
            Tensor a = rand(2, 3), b = rand(3);
            be.accumulate(g, a);
            be.accumulate(g, b);
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 3; j++) {
                    assertEquals(a.getFloat(i, j) + b.getFloat(j), g.getFloat(i, j), 1e-6, be.name());
                }
            }
        }
    }

    @Test
    void accumulateRejectsBadTargetsAndShapes() {
        for (Backend be : new Backend[] {fast, ref}) {
            var e = assertThrows(IllegalArgumentException.class, () -> be.accumulate(be.zeros(2, 3), rand(3, 3)));
            assertTrue(e.getMessage().startsWith("accumulate:") && !e.getMessage().contains("\n"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> be.accumulate(be.zeros(3), rand(2, 3)));
            Tensor half = CpuBackendTest.half(rand(2, 3), DType.F16);
            var e2 = assertThrows(IllegalArgumentException.class, () -> be.accumulate(half, rand(2, 3)));
            assertTrue(e2.getMessage().startsWith("accumulate:"), e2.getMessage());
        }
        assertTrue(fast.zeros(1).storage() instanceof FloatStorage);
    }
}
