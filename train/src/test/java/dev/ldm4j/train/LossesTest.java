// The losses against their formulas computed here in double: MSE, L1, the per-sample weighted MSE (equal to
// the MSE when every weight is 1), and the KL of a diagonal Gaussian against N(0, I).
package dev.ldm4j.train;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

class LossesTest {
    private final AutogradBackend b = new AutogradBackend(Backends.create("cpu"));

    private static Tensor random(long seed, int... shape) {
        Random r = new Random(seed);
        float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return Tensor.of(a, shape);
    }

    @Test
    void mseL1AndWeightedMseFollowTheirFormulas() {
        Tensor p = random(1, 3, 2, 4, 5), t = random(2, 3, 2, 4, 5);
        float[] pa = p.toFloatArray(), ta = t.toFloatArray();
        float[] w = {0.5f, 2f, 1.25f};
        int per = pa.length / 3;
        double mse = 0, l1 = 0, weighted = 0;
        for (int i = 0; i < pa.length; i++) {
            double d = pa[i] - (double) ta[i];
            mse += d * d / pa.length;
            l1 += Math.abs(d) / pa.length;
            weighted += w[i / per] * d * d / per / 3;
        }
        assertEquals(mse, Losses.mse(b, p, t).toFloatArray()[0], 1e-6 * mse);
        assertEquals(l1, Losses.l1(b, p, t).toFloatArray()[0], 1e-6 * l1);
        assertEquals(weighted, Losses.weightedMse(b, p, t, w).toFloatArray()[0], 1e-6 * weighted);
        assertEquals(mse, Losses.weightedMse(b, p, t, new float[] {1, 1, 1}).toFloatArray()[0], 1e-6 * mse);
    }

    @Test
    void klOfADiagonalGaussian() {
        Tensor mean = random(3, 2, 4, 3, 3), logvar = b.scale(random(4, 2, 4, 3, 3), 0.3f);
        float[] m = mean.toFloatArray(), lv = logvar.toFloatArray();
        double kl = 0;
        for (int i = 0; i < m.length; i++) {
            kl += 0.5 * (m[i] * (double) m[i] + Math.exp(lv[i]) - 1 - lv[i]) / 2;   // mean over a batch of 2
        }
        assertEquals(kl, Losses.kl(b, mean, logvar).toFloatArray()[0], 1e-5 * kl);
    }
}
