// TorchGenerator.state() / restore(State): a restored generator continues the exact stream, through
// both randn paths (block fill and the scalar path with its cached normal) and a state regeneration.
package dev.ldm4j.diffusion.random;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TorchGeneratorStateTest {
    @Test
    void restoredGeneratorDrawsTheSameStreamBitForBit() {
        for (TorchGenerator.Precision precision : TorchGenerator.Precision.values()) {
            TorchGenerator g = new TorchGenerator(1234, precision);
            g.randn(2, 17);
            g.randn(3); // odd count: leaves a cached normal behind
            TorchGenerator.State saved = g.state();
            assertTrue(saved.hasCachedNormal(), "an odd scalar draw leaves the sine half cached");
            float[] a1 = g.randn(5);
            float[] a2 = g.randn(700); // crosses a 624-word regeneration
            float[] a3 = g.randn(1);

            TorchGenerator r = TorchGenerator.restore(saved);
            TorchGeneratorTest.assertSameBits(a1, r.randn(5), precision + " first draw after restore");
            TorchGeneratorTest.assertSameBits(a2, r.randn(700), precision + " second draw after restore");
            TorchGeneratorTest.assertSameBits(a3, r.randn(1), precision + " third draw after restore");
            assertEquals(g.state(), r.state(), precision + ": states agree after the same draws");
        }
    }

    @Test
    void stateOfAFreshGeneratorRestoresToTheSeededStream() {
        TorchGenerator.State fresh = new TorchGenerator(42).state();
        assertEquals(624, fresh.position(), "a seeded engine regenerates before its first draw");
        TorchGeneratorTest.assertSameBits(new TorchGenerator(42).randn(1, 4, 8, 8), TorchGenerator.restore(fresh).randn(1, 4, 8, 8), "seed 42");
    }

    @Test
    void stateIsASnapshotNotALiveView() {
        TorchGenerator g = new TorchGenerator(7);
        TorchGenerator.State before = g.state();
        g.randn(20);
        assertNotEquals(before, g.state());
        int[] words = before.words();
        words[0] ^= 1;
        assertNotEquals(words[0], before.words()[0], "words() hands out a copy");
    }

    @Test
    void malformedStateIsRefusedWithTheReason() {
        IllegalArgumentException shortState = assertThrows(IllegalArgumentException.class,
                () -> new TorchGenerator.State(TorchGenerator.Precision.FLOAT32, new int[10], 0, false, 0));
        assertTrue(shortState.getMessage().contains("10 words"), shortState.getMessage());
        IllegalArgumentException badPosition = assertThrows(IllegalArgumentException.class,
                () -> new TorchGenerator.State(TorchGenerator.Precision.FLOAT32, new int[624], 625, false, 0));
        assertTrue(badPosition.getMessage().contains("625"), badPosition.getMessage());
    }
}
