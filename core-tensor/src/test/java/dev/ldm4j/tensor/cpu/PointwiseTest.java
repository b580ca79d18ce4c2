// The vector exp and lane sum that replace the JDK's lanewise EXP and reduceLanes(ADD), whose last
// bits differ between interpreted and compiled code: accuracy against Math.exp and a plain sum; and the
// attention softmax's shorter exp for exponents <= 0.
package dev.ldm4j.tensor.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PointwiseTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    @Test
    void expIsWithinThreeUlpOfMathExpOverTheFloatRange() {
        Random r = new Random(11);
        float[] x = new float[S.length()];
        float[] y = new float[S.length()];
        double worstUlps = 0;
        for (int n = 0; n < 200_000; n++) {
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (r.nextDouble() * 175 - 87);   // [-87, 88]
            }
            Pointwise.exp(FloatVector.fromArray(S, x, 0)).intoArray(y, 0);
            for (int i = 0; i < x.length; i++) {
                float want = (float) Math.exp(x[i]);
                worstUlps = Math.max(worstUlps, Math.abs(y[i] - want) / Math.ulp(want));
            }
        }
        assertTrue(worstUlps <= 3, "worst error " + worstUlps + " ulp");
    }

    @Test
    void expOfVeryNegativeIsZeroAndNaNStaysNaN() {
        float[] x = new float[S.length()];
        float[] y = new float[S.length()];
        java.util.Arrays.fill(x, Float.NEGATIVE_INFINITY);
        x[0] = -100f;
        x[1] = Float.NaN;
        x[2] = 0f;
        Pointwise.exp(FloatVector.fromArray(S, x, 0)).intoArray(y, 0);
        assertEquals(0f, y[0]);
        assertTrue(Float.isNaN(y[1]));
        assertEquals(1f, y[2]);
        assertEquals(0f, y[3]);
    }

    @Test
    void expNonPositiveIsWithinFourUlpOfMathExpDownToTheSmallestNormal() {
        Random r = new Random(12);
        float[] x = new float[S.length()];
        float[] y = new float[S.length()];
        double worstUlps = 0;
        for (int n = 0; n < 200_000; n++) {
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) -(r.nextDouble() * (n % 2 == 0 ? 87 : 2));   // [-87, 0], every other round [-2, 0]
            }
            Pointwise.expNonPositive(FloatVector.fromArray(S, x, 0)).intoArray(y, 0);
            for (int i = 0; i < x.length; i++) {
                float want = (float) Math.exp(x[i]);
                worstUlps = Math.max(worstUlps, Math.abs(y[i] - want) / Math.ulp(want));
            }
        }
        assertTrue(worstUlps <= 4, "worst error " + worstUlps + " ulp");
        assertTrue(worstUlps > 0.5, "not the exact exp: worst error " + worstUlps + " ulp");
    }

    @Test
    void expShiftedSumsWhatItWritesAndMasksMinusInfinity() {
        int n = 3 * S.length();
        float[] a = new float[n];
        float[] p = new float[n];
        Random r = new Random(13);
        for (int i = 0; i < n; i++) {
            a[i] = i % 5 == 4 ? Float.NEGATIVE_INFINITY : (float) r.nextGaussian() * 4;
        }
        float max = Float.NEGATIVE_INFINITY;
        for (float v : a) {
            max = Math.max(max, v);
        }
        float sum = Pointwise.expShifted(a, 0, n, max, p, 0);
        double want = 0;
        for (int i = 0; i < n; i++) {
            double e = Math.exp(a[i] - max);   // the float difference, as the kernel forms it
            assertEquals(e, p[i], 4e-7 * Math.max(e, 1e-30), "element " + i);
            want += e;
            if (i % 5 == 4) {
                assertEquals(0f, p[i]);
            }
        }
        assertEquals(want, sum, 1e-6 * want);
    }

    @Test
    void sumLanesAddsPairwiseInAFixedOrder() {
        Random r = new Random(5);
        float[] x = new float[S.length()];
        for (int n = 0; n < 1000; n++) {
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) r.nextGaussian() * (1 << r.nextInt(20));
            }
            float[] a = x.clone();
            for (int half = a.length / 2; half >= 1; half /= 2) {       // lane i += lane i ^ half
                float[] b = a.clone();
                for (int i = 0; i < a.length; i++) {
                    b[i] = a[i] + a[i ^ half];
                }
                a = b;
            }
            assertEquals(Float.floatToIntBits(a[0]), Float.floatToIntBits(Pointwise.sumLanes(FloatVector.fromArray(S, x, 0))));
        }
    }
}
