// The reverse walk and the composite rules (products, broadcasting arithmetic, reductions, concatenation,
// views) against central finite differences of the same float32 forward. The losses here are at most
// quadratic in each element, so a central difference with step 1e-2 is exact up to float32 rounding; the
// tolerance 1e-3 (relative L2 over the sampled elements) leaves room only for that rounding. The backward
// primitives of single ops (convolution, norms, attention, activations) are checked in float64 where they
// are implemented, in core-tensor.
package dev.ldm4j.autograd;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AutogradBackendTest {
    private static final double TOLERANCE = 1e-3;
    private final Backend cpu = Backends.create("cpu");

    private static Tensor random(long seed, int... shape) {
        Random r = new Random(seed);
        float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        return Tensor.of(a, shape);
    }

    /** The sum of every element of t, as a one-element tensor, by the backend's own reductions. */
    static Tensor total(Backend b, Tensor t) {
        Tensor r = t;
        while (r.rank() > 1) {
            r = b.sum(r, 0);
            r = r.reshape(java.util.Arrays.copyOfRange(r.shape(), 1, r.rank()));
        }
        return b.sum(r, 0);
    }

    /**
     * Checks the gradient of loss with respect to each leaf against central differences at every element
     * (the leaves are small): the same loss function runs on the plain backend with one element moved by +-h.
     */
    private void gradCheck(Function<Backend, Tensor> loss, Tensor... leaves) {
        AutogradBackend ag = new AutogradBackend(cpu);
        for (Tensor leaf : leaves) {
            ag.requireGrad(leaf);
        }
        AutogradBackend.Gradients grads = ag.backward(loss.apply(ag));
        double h = 1e-2;
        for (int l = 0; l < leaves.length; l++) {
            float[] data = leaves[l].data();
            float[] analytic = grads.of(leaves[l]).toFloatArray();
            double num2 = 0, diff2 = 0;
            for (int i = 0; i < data.length; i++) {
                float keep = data[i];
                data[i] = (float) (keep + h);
                double up = loss.apply(cpu).toFloatArray()[0];
                data[i] = (float) (keep - h);
                double down = loss.apply(cpu).toFloatArray()[0];
                data[i] = keep;
                double numeric = (up - down) / (2 * h);
                num2 += numeric * numeric;
                diff2 += (numeric - analytic[i]) * (numeric - analytic[i]);
            }
            double rel = Math.sqrt(diff2 / Math.max(num2, 1e-30));
            assertTrue(rel <= TOLERANCE, "leaf " + l + ": relative error " + rel);
        }
    }

    @Test
    void linearOverABatchOfTokens() {
        Tensor x = random(1, 2, 3, 5), w = random(2, 4, 5), bias = random(3, 4), r = random(4, 2, 3, 4);
        gradCheck(b -> total(b, b.mul(b.linear(x, w, bias, Activation.NONE), r)), x, w, bias);
    }

    @Test
    void matmulWithABroadcastOperandAndATransposedView() {
        Tensor a = random(5, 2, 3, 4), m = random(6, 5, 4), r = random(7, 2, 3, 5);
        // a [2,3,4] x m^T [4,5]: m enters as a transposed view and is broadcast over the batch.
        gradCheck(b -> total(b, b.mul(b.matmul(a, m.transpose(0, 1)), r)), a, m);
    }

    @Test
    void broadcastingArithmeticSumsOverTheBroadcastDimensions() {
        Tensor a = random(8, 2, 3, 4), c = random(9, 3, 1), d = random(10, 4);
        gradCheck(b -> total(b, b.mul(b.sub(b.add(a, c), d), b.scale(b.add(a, d), 0.5f))), a, c, d);
    }

    @Test
    void reductionsConcatAndSlices() {
        Tensor a = random(11, 2, 5, 3), c = random(12, 2, 2, 3), r = random(13, 2, 1, 3);
        gradCheck(b -> {
            Tensor cat = b.concat(1, a.slice(1, 1, 4), c);                 // [2, 5, 3] from a slice and c
            Tensor m = b.mean(b.mul(cat, cat), 1);                         // [2, 1, 3]
            return total(b, b.mul(b.add(m, b.sum(a, 1)), r));
        }, a, c);
    }

    @Test
    void aTensorUsedTwiceGetsTheSumOfBothGradients() {
        Tensor a = random(14, 3, 4), w = random(15, 4, 4);
        gradCheck(b -> {
            Tensor y = b.linear(a, w, null, Activation.NONE);
            return total(b, b.mul(y, b.linear(y, w, null, Activation.NONE)));
        }, a, w);
    }

    @Test
    void checkpointedBlockGivesTheSameGradientsAndKeepsLessOnTheTape() {
        Tensor x = random(16, 4, 6), w1 = random(17, 6, 6), w2 = random(18, 6, 6), r = random(19, 4, 6);
        Function<Backend, Function<Tensor[], Tensor>> block = b -> in ->
                b.linear(b.mul(b.linear(in[0], w1, null, Activation.NONE), b.linear(in[0], w2, null, Activation.NONE)), w1, null, Activation.NONE);

        AutogradBackend plain = new AutogradBackend(cpu);
        plain.requireGrad(w1);
        plain.requireGrad(w2);
        plain.requireGrad(x);
        Tensor l1 = total(plain, plain.mul(block.apply(plain).apply(new Tensor[] {x}), r));
        long keptPlain = plain.savedBytes();
        AutogradBackend.Gradients g1 = plain.backward(l1);

        AutogradBackend ck = new AutogradBackend(cpu);
        ck.setGradientCheckpointing(true);
        ck.requireGrad(w1);
        ck.requireGrad(w2);
        ck.requireGrad(x);
        Tensor l2 = total(ck, ck.mul(ck.checkpoint(block.apply(ck), x), r));
        long keptCheckpoint = ck.savedBytes();
        AutogradBackend.Gradients g2 = ck.backward(l2);

        assertTrue(keptCheckpoint < keptPlain, "checkpoint keeps " + keptCheckpoint + " bytes, plain " + keptPlain);
        for (Tensor t : new Tensor[] {x, w1, w2}) {
            float[] a = g1.of(t).toFloatArray(), c = g2.of(t).toFloatArray();
            for (int i = 0; i < a.length; i++) {
                assertEquals(a[i], c[i], 1e-5 * Math.max(1, Math.abs(a[i])), "element " + i);
            }
        }
    }

    /**
     * Each thread records on a tape of its own: two threads run different losses over the same leaf through one
     * AutogradBackend at the same time (meeting at a barrier between forward and backward, so both tapes are
     * live at once), and each gets the gradients of its own loss, equal to those of the same loss run alone.
     */
    @Test
    void threadsRecordOnTapesOfTheirOwn() throws Exception {
        Tensor w = random(30, 6, 5), x1 = random(31, 4, 5), x2 = random(32, 3, 5), r1 = random(33, 4, 6), r2 = random(34, 3, 6);
        Function<AutogradBackend, Tensor> loss1 = b -> total(b, b.mul(b.linear(x1, w, null, Activation.NONE), r1));
        Function<AutogradBackend, Tensor> loss2 = b -> total(b, b.mul(b.linear(x2, w, null, Activation.SILU), r2));
        float[][] alone = new float[2][];
        for (int k = 0; k < 2; k++) {
            AutogradBackend solo = new AutogradBackend(cpu);
            solo.requireGrad(w);
            alone[k] = solo.backward((k == 0 ? loss1 : loss2).apply(solo)).of(w).toFloatArray();
        }
        AutogradBackend shared = new AutogradBackend(cpu);
        shared.requireGrad(w);
        java.util.concurrent.CyclicBarrier bothForward = new java.util.concurrent.CyclicBarrier(2);
        float[][] together = new float[2][];
        Throwable[] failure = new Throwable[2];
        Thread[] threads = new Thread[2];
        for (int k = 0; k < 2; k++) {
            int part = k;
            threads[k] = new Thread(() -> {
                try {
                    shared.clearTape();
                    Tensor l = (part == 0 ? loss1 : loss2).apply(shared);
                    bothForward.await();
                    together[part] = shared.backward(l).of(w).toFloatArray();
                } catch (Throwable e) {
                    failure[part] = e;
                }
            });
            threads[k].start();
        }
        for (int k = 0; k < 2; k++) {
            threads[k].join();
            assertEquals(null, failure[k], "thread " + k);
            assertTrue(java.util.Arrays.equals(alone[k], together[k]), "thread " + k + "'s gradient equals its loss's alone");
        }
        assertTrue(!java.util.Arrays.equals(alone[0], alone[1]), "the two losses have different gradients");
    }

    /**
     * A storage's first gradient contribution becomes its buffer when nothing else holds it. add hands the same dy
     * to both inputs and contiguous hands dy on as it is: each leaf still gets a buffer of its own (a later
     * contribution to one must not reach the other), and the sums are those of the two terms.
     */
    @Test
    void firstContributionsBecomeBuffersWithoutSharingThem() {
        Tensor a = random(23, 3, 4), c = random(24, 3, 4), r = random(25, 3, 4), s = random(26, 3, 4);
        AutogradBackend ag = new AutogradBackend(cpu);
        ag.requireGrad(a);
        ag.requireGrad(c);
        Tensor y = ag.contiguous(ag.add(a, c));                          // dy of a and of c: the same tensor
        Tensor loss = ag.add(total(ag, ag.mul(y, r)), total(ag, ag.mul(a, s)));
        AutogradBackend.Gradients g = ag.backward(loss);
        assertTrue(g.of(a).storage() != g.of(c).storage(), "a and c share one gradient buffer");
        float[] ga = g.of(a).toFloatArray(), gc = g.of(c).toFloatArray(), ra = r.data(), sa = s.data();
        for (int i = 0; i < ga.length; i++) {
            assertEquals(ra[i], gc[i], 0f, "dL/dc = r at " + i);
            assertEquals(ra[i] + sa[i], ga[i], 1e-6f, "dL/da = r + s at " + i);
        }
        // a leaf used as a whole (its buffer adopted) and through a slice (added into that buffer)
        gradCheck(b -> total(b, b.add(b.mul(a, r), b.concat(0, a.slice(0, 0, 1), b.scale(a, 2f).slice(0, 1, 3)))), a);
    }

    @Test
    void nothingIsRecordedWithoutATrackedInputOrUnderNoGrad() {
        AutogradBackend ag = new AutogradBackend(cpu);
        Tensor w = ag.requireGrad(random(20, 3, 3));
        Tensor x = random(21, 2, 3);
        ag.linear(x, x.reshape(3, 2).transpose(0, 1), null, Activation.NONE);
        assertEquals(0, ag.tapeLength());
        try (var ignored = ag.noGrad()) {
            ag.linear(x, w, null, Activation.NONE);
        }
        assertEquals(0, ag.tapeLength());
        ag.linear(x, w, null, Activation.NONE);
        assertEquals(1, ag.tapeLength());
    }

    @Test
    void backwardRefusesANonScalarLossAndALossWithoutParameters() {
        AutogradBackend ag = new AutogradBackend(cpu);
        Tensor w = ag.requireGrad(random(22, 2, 2));
        Tensor y = ag.mul(w, w);
        assertThrows(IllegalArgumentException.class, () -> ag.backward(y));
        assertThrows(IllegalStateException.class, () -> ag.backward(Tensor.of(new float[] {1f}, 1)));
    }
}
