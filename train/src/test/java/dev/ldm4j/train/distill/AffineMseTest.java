// DistillationObjective.affineMse is the loss it stands for: (1/B) sum_b w_b mean_i (a_b z + b_b m - y)^2, computed
// directly in double on random rows (the v, epsilon and sample coefficients of a few timesteps), and its gradient with
// respect to m is that loss's: (2 / (B P)) w_b b_b (a_b z + b_b m - y).
package dev.ldm4j.train.distill;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

class AffineMseTest {
    @Test
    void isTheWeightedMseOfTheAffineEstimateAndHasItsGradient() {
        int b = 3, per = 10;
        SplittableRandom r = new SplittableRandom(9);
        float[] z = new float[b * per], m = new float[b * per], y = new float[b * per];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) r.nextGaussian();
            m[i] = (float) r.nextGaussian();
            y[i] = (float) r.nextGaussian();
        }
        NoiseLevels levels = NoiseLevels.of(ProgressiveTargetTest.schedule("v_prediction", true));
        NoiseLevels eps = NoiseLevels.of(ProgressiveTargetTest.schedule("epsilon", false));
        NoiseLevels.Affine[] coef = {levels.x0(999), eps.x0(500), new NoiseLevels.Affine(0.3, -1.7)};
        double[] w = {1.0, 2.5, 0.25};
        double expected = 0;
        double[] grad = new double[z.length];
        for (int row = 0; row < b; row++) {
            for (int i = row * per; i < (row + 1) * per; i++) {
                double d = coef[row].a() * z[i] + coef[row].b() * m[i] - y[i];
                expected += w[row] * d * d / per / b;
                grad[i] = 2 * w[row] * coef[row].b() * d / per / b;
            }
        }
        AutogradBackend ag = new AutogradBackend(Backends.create("cpu"));
        Tensor mt = ag.requireGrad(Tensor.of(m.clone(), b, per));
        Tensor loss = DistillationObjective.affineMse(ag, mt, z, coef, y, w);
        assertEquals(expected, loss.toFloatArray()[0], 1e-5 * expected);
        float[] g = ag.backward(loss).of(mt).toFloatArray();
        for (int i = 0; i < g.length; i++) {
            assertEquals(grad[i], g[i], 1e-5 * Math.abs(grad[i]) + 1e-7, "dL/dm[" + i + "]");
        }
    }
}
