// Test helpers for the backward primitives: seeded inputs, float64 central finite differences of
// L = sum(f(x) * r) for a forward f written in double in the test, and relative L2 errors.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Tensor;

import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

final class GradCheck {
    /** Analytic float gradients against float64 finite differences. */
    static final double FD_TOL = 1e-4;
    /** The fast CPU backend against its scalar twin (fp32 against double). */
    static final double TWIN_TOL = 1e-5;
    /** Finite-difference step: truncation (h^2 f''') and cancellation (1e-16 |L| / h) both near 1e-10. */
    static final double H = 1e-5;

    private final Random rng;

    GradCheck(long seed) {
        rng = new Random(seed);
    }

    Tensor rand(int... shape) {
        return rand(1f, 0f, shape);
    }

    /** Gaussian values times amp, plus offset. */
    Tensor rand(float amp, float offset, int... shape) {
        float[] a = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (rng.nextGaussian() * amp + offset);
        }
        return Tensor.of(a, shape);
    }

    static double[] d(Tensor t) {
        float[] a = t.toFloatArray();
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        return out;
    }

    /**
     * dL/d inputs[which] by central differences, L(inputs) = sum_i f(inputs)[i] r[i], everything in double.
     * inputs[which] is perturbed in place and restored.
     */
    static double[] numeric(double[][] inputs, int which, Function<double[][], double[]> f, double[] r) {
        double[] x = inputs[which];
        double[] grad = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double keep = x[i];
            x[i] = keep + H;
            double up = dotR(f.apply(inputs), r);
            x[i] = keep - H;
            double down = dotR(f.apply(inputs), r);
            x[i] = keep;
            grad[i] = (up - down) / (2 * H);
        }
        return grad;
    }

    private static double dotR(double[] y, double[] r) {
        double s = 0;
        for (int i = 0; i < y.length; i++) {
            s += y[i] * r[i];
        }
        return s;
    }

    /** ||got - want|| / ||want|| (the absolute norm when want is zero). */
    static double relErr(float[] got, double[] want) {
        assertTrue(got.length == want.length, "length " + got.length + " != " + want.length);
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    /** Asserts that an analytic gradient matches the finite differences within FD_TOL; returns the error. */
    static double assertMatchesFd(Tensor analytic, double[] fd, String what) {
        double err = relErr(analytic.toFloatArray(), fd);
        report(what + " vs finite differences", err);
        assertTrue(err <= FD_TOL, what + ": relative error against finite differences " + err + " > " + FD_TOL);
        return err;
    }

    /** Asserts that the fast result matches the reference within TWIN_TOL and is dense; returns the error. */
    static double assertTwin(Tensor fast, Tensor ref, String what) {
        assertArrayEquals(ref.shape(), fast.shape(), what + ": shape");
        double err = relErr(fast.toFloatArray(), d(ref));
        report(what + " fast vs reference", err);
        assertTrue(err <= TWIN_TOL, what + ": relative error against the reference " + err + " > " + TWIN_TOL);
        assertTrue(fast.isContiguous() && fast.offset() == 0, what + ": result must be dense");
        return err;
    }

    /** Prints each measured error when run with -Dgradcheck.verbose=true. */
    private static void report(String what, double err) {
        if (Boolean.getBoolean("gradcheck.verbose")) {
            System.out.printf("gradcheck %-70s %.2e%n", what, err);
        }
    }

    /** The same logical values held transposed in memory (a non-contiguous view of the last two dimensions). */
    static Tensor transposedView(Tensor t) {
        int r = t.rank();
        int[] s = t.shape();
        int tmp = s[r - 2];
        s[r - 2] = s[r - 1];
        s[r - 1] = tmp;
        return Tensor.of(t.transpose(r - 2, r - 1).toFloatArray(), s).transpose(r - 2, r - 1);
    }
}
