package dev.ldm4j.train;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TimestepBiasTest {
    @Test
    void laterPortionWeighsMultiplierTimesAsMuch() {
        // diffusers' generate_timestep_weights for 1000 steps, "later", portion 0.15, multiplier 5:
        // 850 steps of weight 1 and 150 of weight 5, over a total of 850 + 750 = 1600.
        double[] w = new TimestepBias("later", 0.15, 5).weights(1000);
        assertEquals(1.0 / 1600, w[0], 1e-15);
        assertEquals(1.0 / 1600, w[849], 1e-15);
        assertEquals(5.0 / 1600, w[850], 1e-15);
        assertEquals(5.0 / 1600, w[999], 1e-15);
        double[] e = new TimestepBias("earlier", 0.1, 3).weights(1000);
        assertEquals(3.0 / 1200, e[99], 1e-15);
        assertEquals(1.0 / 1200, e[100], 1e-15);
    }

    @Test
    void drawsFollowTheWeights() {
        TimestepBias.Sampler s = new TimestepBias("later", 0.15, 5).sampler(1000);
        SplittableRandom r = new SplittableRandom(7);
        int n = 200_000, late = 0, min = 1000, max = -1;
        for (int i = 0; i < n; i++) {
            int t = s.draw(r);
            min = Math.min(min, t);
            max = Math.max(max, t);
            if (t >= 850) {
                late++;
            }
        }
        // P(t >= 850) = 750 / 1600 = 0.46875; binomial standard deviation sqrt(p (1 - p) / n) = 0.0011
        assertEquals(0.46875, late / (double) n, 0.006);
        assertEquals(0, min);
        assertEquals(999, max);
    }

    @Test
    void noBiasIsTheUniformDraw() {
        TimestepBias.Sampler s = TimestepBias.NONE.sampler(1000);
        SplittableRandom a = new SplittableRandom(3), b = new SplittableRandom(3);
        for (int i = 0; i < 100; i++) {
            assertEquals(b.nextInt(1000), s.draw(a));
        }
        assertThrows(IllegalArgumentException.class, () -> new TimestepBias("middle", 0.1, 2));
        assertThrows(IllegalArgumentException.class, () -> new TimestepBias("later", 1.5, 2));
        assertThrows(IllegalArgumentException.class, () -> new TimestepBias("later", 0.1, 0));
    }
}
