// AdamW against its update formula evaluated independently in double: per step from the same float
// state (relative 1e-6), over a whole run (relative 1e-6), decoupled weight decay and its exclusion
// exactly, and a loss that falls.
package dev.ldm4j.train.optim;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AdamWTest {
    /**
     * A separable quadratic, loss = sum 0.5 a (p - t)^2 over three parameters, gradient a (p - t).
     * Each p starts at least 0.5 from its target, so over a few small steps no gradient changes sign.
     */
    static final class Quadratic {
        final TrainableParams params = new TrainableParams();
        final Map<String, float[]> target = new HashMap<>();
        final Map<String, float[]> curvature = new HashMap<>();

        Quadratic(long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            add(r, "down.conv.weight", 2, 3);
            add(r, "down.conv.bias", 3);
            add(r, "norm1.weight", 5);
        }

        private void add(SplittableRandom r, String name, int... shape) {
            int n = 1;
            for (int d : shape) {
                n *= d;
            }
            float[] value = new float[n];
            float[] t = new float[n];
            float[] a = new float[n];
            for (int i = 0; i < n; i++) {
                t[i] = (float) r.nextDouble(-1, 1);
                double gap = r.nextDouble(0.5, 1.5) * (r.nextBoolean() ? 1 : -1);
                value[i] = (float) (t[i] + gap);
                a[i] = (float) r.nextDouble(0.2, 3);
            }
            params.add(name, shape, value, new float[n]);
            target.put(name, t);
            curvature.put(name, a);
        }

        void computeGrads() {
            for (TrainableParams.Param p : params) {
                float[] t = target.get(p.name());
                float[] a = curvature.get(p.name());
                for (int i = 0; i < p.numel(); i++) {
                    p.grad()[i] = a[i] * (p.value()[i] - t[i]);
                }
            }
        }

        double loss() {
            double l = 0;
            for (TrainableParams.Param p : params) {
                float[] t = target.get(p.name());
                float[] a = curvature.get(p.name());
                for (int i = 0; i < p.numel(); i++) {
                    double d = p.value()[i] - t[i];
                    l += 0.5 * a[i] * d * d;
                }
            }
            return l;
        }
    }

    /** The AdamW update of one element in double, straight from the formula. Returns {p, m, v}. */
    static double[] referenceStep(double p, double m, double v, double g, long t, double lr, AdamW.Hyperparameters h, boolean decay) {
        if (decay) {
            p *= 1 - lr * h.weightDecay();
        }
        m = h.beta1() * m + (1 - h.beta1()) * g;
        v = h.beta2() * v + (1 - h.beta2()) * g * g;
        double bc1 = 1 - Math.pow(h.beta1(), t);
        double bc2 = 1 - Math.pow(h.beta2(), t);
        double denom = Math.sqrt(v) / Math.sqrt(bc2) + h.eps();
        p -= lr / bc1 * m / denom;
        return new double[] {p, m, v};
    }

    static void assertRelative(double expected, double actual, double tolerance, String what) {
        double err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-30);
        if (!(err <= tolerance)) {
            throw new AssertionError(what + ": " + actual + " vs " + expected + " (relative error " + err + " > " + tolerance + ")");
        }
    }

    private static final AdamW.Hyperparameters HYPER = new AdamW.Hyperparameters(2e-2, 0.9, 0.999, 1e-8, 0.05);

    @Test
    void eachStepMatchesTheFormulaInDoubleFromTheSameState() {
        Quadratic q = new Quadratic(11);
        AdamW opt = new AdamW(q.params, HYPER, AdamW.biasesAndNorms());
        for (int step = 1; step <= 8; step++) {
            q.computeGrads();
            Map<String, float[][]> before = new HashMap<>();
            for (TrainableParams.Param p : q.params) {
                before.put(p.name(), new float[][] {p.value().clone(), opt.expAvg(p.name()).clone(), opt.expAvgSq(p.name()).clone()});
            }
            double lr = HYPER.lr() * (1 - 0.05 * step); // a changing lr, as a schedule gives
            opt.step(lr);
            assertEquals(step, opt.stepCount());
            for (TrainableParams.Param p : q.params) {
                float[][] b = before.get(p.name());
                boolean decay = !p.name().endsWith("bias") && !p.name().startsWith("norm");
                for (int i = 0; i < p.numel(); i++) {
                    double[] ref = referenceStep(b[0][i], b[1][i], b[2][i], p.grad()[i], step, lr, HYPER, decay);
                    String at = p.name() + "[" + i + "] step " + step;
                    assertRelative(ref[0], p.value()[i], 1e-6, at + " value");
                    assertRelative(ref[1], opt.expAvg(p.name())[i], 1e-6, at + " exp_avg");
                    assertRelative(ref[2], opt.expAvgSq(p.name())[i], 1e-6, at + " exp_avg_sq");
                }
            }
        }
    }

    @Test
    void aWholeRunMatchesTheFormulaRunInDouble() {
        Quadratic q = new Quadratic(5);
        AdamW opt = new AdamW(q.params, HYPER);
        Map<String, double[][]> ref = new HashMap<>(); // {p, m, v} per element, all in double
        for (TrainableParams.Param p : q.params) {
            double[][] s = new double[3][p.numel()];
            for (int i = 0; i < p.numel(); i++) {
                s[0][i] = p.value()[i];
            }
            ref.put(p.name(), s);
        }
        for (int step = 1; step <= 6; step++) {
            q.computeGrads();
            opt.step();
            for (TrainableParams.Param p : q.params) {
                double[][] s = ref.get(p.name());
                float[] t = q.target.get(p.name());
                float[] a = q.curvature.get(p.name());
                for (int i = 0; i < p.numel(); i++) {
                    double g = (double) a[i] * (s[0][i] - t[i]);
                    double[] r = referenceStep(s[0][i], s[1][i], s[2][i], g, step, HYPER.lr(), HYPER, true);
                    s[0][i] = r[0];
                    s[1][i] = r[1];
                    s[2][i] = r[2];
                    String at = p.name() + "[" + i + "] step " + step;
                    assertRelative(r[0], p.value()[i], 1e-6, at + " value");
                    assertRelative(r[1], opt.expAvg(p.name())[i], 1e-6, at + " exp_avg");
                    assertRelative(r[2], opt.expAvgSq(p.name())[i], 1e-6, at + " exp_avg_sq");
                }
            }
        }
    }

    @Test
    void lossDecreasesOnAQuadratic() {
        Quadratic q = new Quadratic(3);
        AdamW opt = new AdamW(q.params, new AdamW.Hyperparameters(5e-2, 0.9, 0.999, 1e-8, 0));
        double previous = q.loss();
        double initial = previous;
        for (int step = 1; step <= 300; step++) {
            q.computeGrads();
            opt.step();
            double loss = q.loss();
            if (step <= 10) {
                assertTrue(loss < previous, "loss rose at step " + step + ": " + previous + " -> " + loss);
            }
            previous = loss;
        }
        assertTrue(previous < 1e-3 * initial, "loss fell only from " + initial + " to " + previous);
    }

    @Test
    void weightDecayIsDecoupledAndSkipsExcludedParameters() {
        // With zero gradients m = v = 0, so the Adam term is exactly 0 and only the decay acts.
        TrainableParams ps = new TrainableParams();
        float[] w = {1f, -2f, 3.5f};
        float[] b = {1f, -2f, 3.5f};
        ps.add("proj.weight", new int[] {3}, w, new float[3]);
        ps.add("proj.bias", new int[] {3}, b, new float[3]);
        double lr = 1e-2;
        AdamW opt = new AdamW(ps, AdamW.Hyperparameters.defaults().withLr(lr), AdamW.biasesAndNorms());
        opt.step();
        opt.step();
        float factor = (float) (1 - lr * 1e-2);
        float[] expected = {1f * factor * factor, -2f * factor * factor, 3.5f * factor * factor};
        for (int i = 0; i < 3; i++) {
            assertEquals(expected[i], w[i], 0f, "decayed weight " + i);
        }
        assertEquals(1f, b[0], 0f);
        assertEquals(-2f, b[1], 0f);
        assertEquals(3.5f, b[2], 0f);
        assertEquals(java.util.Set.of("proj.bias"), opt.noWeightDecay());
    }

    @Test
    void firstStepMovesEachParameterByTheLearningRateTimesTheSignOfItsGradient() {
        // At t = 1 the bias corrections cancel: m / bc1 = g and sqrt(v / bc2) = |g|, so the step is
        // -lr g / (|g| + eps): lr * sign(g), shortened only where |g| is near eps.
        TrainableParams ps = new TrainableParams();
        float[] p = {0f, 0f, 0f};
        float[] g = {3f, -0.25f, 1e-3f};
        ps.add("x", new int[] {3}, p, g);
        double lr = 1e-3;
        new AdamW(ps, new AdamW.Hyperparameters(lr, 0.9, 0.999, 1e-8, 0)).step();
        for (int i = 0; i < 3; i++) {
            assertRelative(-lr * g[i] / (Math.abs(g[i]) + 1e-8), p[i], 1e-6, "element " + i);
        }
    }

    @Test
    void biasesAndNormsPredicateNamesTheUsualExclusions() {
        var exclude = AdamW.biasesAndNorms();
        for (String n : new String[] {"conv_in.bias", "down_blocks.0.resnets.0.norm1.weight", "text_model.final_layer_norm.weight",
                "conv_norm_out.weight", "transformer.resblocks.0.ln_1.weight", "norm.weight"}) {
            assertTrue(exclude.test(n), n);
        }
        for (String n : new String[] {"conv_in.weight", "attn1.to_q.weight", "time_embedding.linear_1.weight", "biased.weight"}) {
            assertFalse(exclude.test(n), n);
        }
    }

    @Test
    void invalidHyperparametersAreRefusedByName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new AdamW.Hyperparameters(-1, 0.9, 0.999, 1e-8, 0))
                .getMessage().contains("learning rate"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new AdamW.Hyperparameters(1e-4, 1.0, 0.999, 1e-8, 0))
                .getMessage().contains("index 0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new AdamW.Hyperparameters(1e-4, 0.9, -0.1, 1e-8, 0))
                .getMessage().contains("index 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new AdamW.Hyperparameters(1e-4, 0.9, 0.999, Double.NaN, 0))
                .getMessage().contains("epsilon"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new AdamW.Hyperparameters(1e-4, 0.9, 0.999, 1e-8, -1))
                .getMessage().contains("weight_decay"));
    }

    @Test
    void defaultsAreThoseOfTheDiffusersTrainingScripts() {
        assertEquals(new AdamW.Hyperparameters(1e-4, 0.9, 0.999, 1e-8, 1e-2), AdamW.Hyperparameters.defaults());
    }
}
