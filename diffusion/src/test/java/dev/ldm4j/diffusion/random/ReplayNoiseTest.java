// ReplayNoise hands out recorded draws in order and refuses a request of the wrong shape or count.
package dev.ldm4j.diffusion.random;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReplayNoiseTest {
    @Test
    void drawsComeBackInRecordedOrder() {
        ReplayNoise r = new ReplayNoise().add(new float[] {1, 2}, 2).add(new float[] {3, 4, 5, 6}, 2, 2);
        assertArrayEquals(new float[] {1, 2}, r.randn(2));
        assertArrayEquals(new float[] {3, 4, 5, 6}, r.randn(2, 2));
        assertEquals(2, r.used());
    }

    @Test
    void wrongShapeNamesBothShapes() {
        ReplayNoise r = new ReplayNoise().add(new float[4], 1, 4);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> r.randn(4, 1));
        assertTrue(e.getMessage().contains("[4, 1]") && e.getMessage().contains("[1, 4]"), e.getMessage());
    }

    @Test
    void drawingPastTheRecordingFails() {
        ReplayNoise r = new ReplayNoise().add(new float[1], 1);
        r.randn(1);
        assertThrows(IllegalStateException.class, () -> r.randn(1));
    }

    @Test
    void recordingChecksValueCount() {
        assertThrows(IllegalArgumentException.class, () -> new ReplayNoise().add(new float[3], 2, 2));
    }
}
