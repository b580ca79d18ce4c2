// StridedLayout.coalesce on the layouts the U-Net produces; expected values worked out by hand from the
// strides (row-major [2,1280,32,32] has strides [1310720, 1024, 32, 1], etc.).
package dev.ldm4j.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class StridedLayoutTest {
    @Test
    void concatPartBecomesRowsOfWholeImages() {
        // src [2,640,32,32] dense into the second half (channels 640..1279) of dst [2,1280,32,32].
        StridedLayout l = StridedLayout.coalesce(new int[] {2, 640, 32, 32}, new long[] {655360, 1024, 32, 1}, new long[] {1310720, 1024, 32, 1});
        assertArrayEquals(new long[] {2, 655360}, l.shape());
        assertArrayEquals(new long[] {655360, 1}, l.strides()[0]);
        assertArrayEquals(new long[] {1310720, 1}, l.strides()[1]);
    }

    @Test
    void permuteToTokensBecomesABatchOfTransposes() {
        // x [2,320,64,64] dense, permute(0,2,3,1) -> logical [2,64,64,320] with strides [1310720, 64, 1, 4096]; dst dense.
        StridedLayout l = StridedLayout.coalesce(new int[] {2, 64, 64, 320}, new long[] {1310720, 64, 1, 4096}, new long[] {1310720, 20480, 320, 1});
        assertArrayEquals(new long[] {2, 4096, 320}, l.shape());
        assertArrayEquals(new long[] {1310720, 1, 4096}, l.strides()[0]);
        assertArrayEquals(new long[] {1310720, 320, 1}, l.strides()[1]);
    }

    @Test
    void broadcastBiasKeepsTheZeroStrideDimension() {
        // out [2,320,64,64] = x (dense) + b [2,320,1,1] broadcast (strides [320, 1, 0, 0]).
        StridedLayout l = StridedLayout.coalesce(new int[] {2, 320, 64, 64}, new long[] {1310720, 4096, 64, 1}, new long[] {320, 1, 0, 0},
                new long[] {1310720, 4096, 64, 1});
        assertArrayEquals(new long[] {640, 4096}, l.shape());
        assertArrayEquals(new long[] {1, 0}, l.strides()[1]);
        assertEquals(true, l.narrow());
    }

    @Test
    void sizeOneDimensionsVanishAndAScalarKeepsOneDimension() {
        StridedLayout l = StridedLayout.coalesce(new int[] {1, 5, 1}, new long[] {99, 3, 7});
        assertArrayEquals(new long[] {5}, l.shape());
        assertArrayEquals(new long[] {3}, l.strides()[0]);
        StridedLayout s = StridedLayout.coalesce(new int[] {1, 1}, new long[] {4, 4});
        assertArrayEquals(new long[] {1}, s.shape());
        assertEquals(1, s.numel());
    }

    @Test
    void wideOffsetsAreNotNarrow() {
        StridedLayout l = StridedLayout.coalesce(new int[] {3, 4}, new long[] {1L << 30, 1});
        assertEquals(false, l.narrow());
    }
}
