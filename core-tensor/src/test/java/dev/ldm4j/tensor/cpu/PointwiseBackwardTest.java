// Activation and GEGLU backward: the analytic gradients of the fast backend and of its scalar twin
// against float64 central finite differences (relative L2 error <= 1e-4), and the fast backend against
// the twin over a wide range of inputs, lengths that leave vector tails, and strided views (<= 1e-5).
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static dev.ldm4j.tensor.cpu.GradCheck.assertMatchesFd;
import static dev.ldm4j.tensor.cpu.GradCheck.assertTwin;
import static dev.ldm4j.tensor.cpu.GradCheck.d;
import static dev.ldm4j.tensor.cpu.GradCheck.numeric;
import static dev.ldm4j.tensor.cpu.GradCheck.transposedView;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PointwiseBackwardTest {
    final CpuBackend fast = new CpuBackend();
    final CpuReference ref = new CpuReference();
    final GradCheck gc = new GradCheck(20261203);

    /** geglu over rows of x [.., 2f] in double, exact GELU. */
    static double[] geglu(double[] x, int f) {
        double[] y = new double[x.length / 2];
        for (int r = 0; r < y.length / f; r++) {
            for (int j = 0; j < f; j++) {
                y[r * f + j] = x[r * 2 * f + j] * CpuReference.act(Activation.GELU, x[r * 2 * f + f + j]);
            }
        }
        return y;
    }

    @Test
    void activationGradientsMatchFiniteDifferences() {
        Tensor x = gc.rand(2.5f, 0f, 3, 41), dy = gc.rand(3, 41);
        for (Activation act : Activation.values()) {
            double[] fd = numeric(new double[][] {d(x)}, 0, a -> {
                double[] y = new double[a[0].length];
                for (int i = 0; i < y.length; i++) {
                    y[i] = CpuReference.act(act, a[0][i]);
                }
                return y;
            }, d(dy));
            for (Backend be : new Backend[] {fast, ref}) {
                assertMatchesFd(be.activationBackward(x, dy, act), fd, be.name() + " activation " + act);
            }
        }
    }

    @Test
    void gegluGradientMatchesFiniteDifferences() {
        for (int f : new int[] {1, 7, 40}) {
            Tensor x = gc.rand(2f, 0f, 2, 3, 2 * f), dy = gc.rand(2, 3, f);
            double[] fd = numeric(new double[][] {d(x)}, 0, a -> geglu(a[0], f), d(dy));
            for (Backend be : new Backend[] {fast, ref}) {
                assertMatchesFd(be.gegluBackward(x, dy), fd, be.name() + " geglu F=" + f);
            }
        }
    }

    @Test
    void activationBackwardMatchesReferenceOverAWideRange() {
        Tensor x = gc.rand(4f, 0f, 7, 1031), dy = gc.rand(7, 1031);
        float[] wide = x.data();
        for (int i = 0; i < 200; i++) {
            wide[i] = -30f + 60f * i / 199; // saturated tails and the region around zero
        }
        for (Activation act : Activation.values()) {
            assertTwin(fast.activationBackward(x, dy, act), ref.activationBackward(x, dy, act), "activation " + act);
        }
        Tensor xs = gc.rand(2f, 0f, 5, 19), dys = gc.rand(5, 19);
        assertTwin(fast.activationBackward(transposedView(xs), dys, Activation.GELU),
                ref.activationBackward(xs, dys, Activation.GELU), "activation GELU strided x");
        assertTwin(fast.activationBackward(xs, dys, null), ref.activationBackward(xs, dys, Activation.NONE), "activation null is NONE");
    }

    @Test
    void gegluBackwardMatchesReference() {
        for (int f : new int[] {1, 13, 640, 1280}) {
            Tensor x = gc.rand(3f, 0f, 2, 37, 2 * f), dy = gc.rand(2, 37, f);
            assertTwin(fast.gegluBackward(x, dy), ref.gegluBackward(x, dy), "geglu F=" + f);
        }
        Tensor x = gc.rand(9, 26), dy = gc.rand(9, 13);
        assertTwin(fast.gegluBackward(transposedView(x), dy), ref.gegluBackward(x, dy), "geglu strided x");
    }

    @Test
    void badShapesGiveOneLineErrors() {
        Tensor x = gc.rand(3, 8);
        assertThrows(IllegalArgumentException.class, () -> fast.activationBackward(x, gc.rand(3, 7), Activation.SILU));
        assertThrows(IllegalArgumentException.class, () -> fast.gegluBackward(x, gc.rand(3, 8)));
        assertThrows(IllegalArgumentException.class, () -> fast.gegluBackward(gc.rand(3, 7), gc.rand(3, 3)));
    }
}
