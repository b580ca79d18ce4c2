// Every scheduler setup of the shared fixtures (diffusers' schedulers with their full configs, at 10
// and 25 steps) reproduced from the same config: identical timesteps, and sigmas and the whole
// trajectory of a fixed analytic "model" within relative error 1e-4, with recorded noise replayed.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;
import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SchedulerConformanceTest {
    /** Relative error ‖ours − ref‖ / ‖ref‖ allowed for sigmas and for each trajectory state. */
    static final double TOLERANCE = 1e-4;
    /** Fractional timesteps (Karras, KDPM2 interpolation) pass through float32 logs: allowed absolute difference. */
    static final double FRACTIONAL_TIMESTEP_TOLERANCE = 2e-3;

    private static SchedulerFixtures fixtures;

    static Stream<String> setups() throws IOException {
        if (!SharedFixtures.available()) {
            return Stream.of("(shared fixtures absent)");
        }
        fixtures = SchedulerFixtures.load();
        return fixtures.setups().keySet().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("setups")
    @SuppressWarnings("unchecked")
    void reproducesDiffusersTrajectory(String key) {
        Assumptions.assumeTrue(SharedFixtures.available(), "shared conformance fixtures not found");
        Map<String, Object> setup = (Map<String, Object>) fixtures.setups().get(key);
        String cls = (String) setup.get("cls");
        Map<String, Object> config = (Map<String, Object>) setup.get("config");
        int steps = ((Number) setup.get("steps")).intValue();

        Scheduler s = Schedulers.fromClassName(cls, config);
        s.setTimesteps(steps);

        double[] refT = fixtures.doubles(key + ".timesteps");
        double[] t = s.timesteps();
        assertEquals(refT.length, t.length, key + ": number of timesteps");
        double worstT = 0;
        for (int i = 0; i < t.length; i++) {
            worstT = Math.max(worstT, Math.abs(t[i] - refT[i]));
        }
        if (Arrays.stream(refT).allMatch(v -> v == Math.rint(v) || v == (float) (Math.rint(8 * v) / 8))) {
            // Integer (or exactly representable linspace) schedules must match exactly.
            assertArrayEquals(refT, t, key + ": timesteps");
        } else {
            assertTrue(worstT <= FRACTIONAL_TIMESTEP_TOLERANCE, key + ": timesteps " + Arrays.toString(t) + " vs " + Arrays.toString(refT));
        }

        double sigmaErr = 0;
        if (fixtures.has(key + ".sigmas")) {
            double[] refS = fixtures.doubles(key + ".sigmas");
            sigmaErr = relErr(s.sigmas(), refS);
            assertTrue(sigmaErr <= TOLERANCE, key + ": sigmas rel err " + sigmaErr + ": " + Arrays.toString(s.sigmas()) + " vs " + Arrays.toString(refS));
        }
        assertEquals(((Number) setup.get("init_noise_sigma")).doubleValue(), s.initNoiseSigma(), 1e-5 * s.initNoiseSigma(), key + ": init_noise_sigma");

        int[] shape = Arrays.copyOfRange(fixtures.shape(key + ".x0"), 0, 4);
        int size = 1;
        for (int d : shape) {
            size *= d;
        }
        int draws = ((Number) setup.get("noise_draws")).intValue();
        float[] allNoise = draws > 0 ? fixtures.floats(key + ".noise") : new float[0];
        ReplayNoise noise = new ReplayNoise(allNoise, shape, size);

        float[] x = fixtures.floats(key + ".x0");
        float[] traj = fixtures.floats(key + ".traj");
        double worst = 0;
        int worstStep = -1;
        for (int i = 0; i < t.length; i++) {
            float[] in = s.scaleModelInput(x, i);
            double bias = 0.05 * Math.cos(t[i] / 1000 * Math.PI / 2);
            float[] eps = new float[size];
            for (int k = 0; k < size; k++) {
                eps[k] = (float) (0.8 * in[k] + bias);
            }
            x = s.step(eps, i, x, shape, noise);
            double err = relErr(x, Arrays.copyOfRange(traj, i * size, (i + 1) * size));
            if (!(err <= worst)) {
                worst = err;
                worstStep = i;
            }
        }
        assertEquals(draws, noise.used, key + ": number of noise draws");
        System.out.printf("%-28s timesteps max|dt| %.2e  sigmas %.2e  trajectory worst %.2e (step %d)%n", key, worstT, sigmaErr, worst, worstStep);
        assertTrue(worst <= TOLERANCE, key + ": trajectory rel err " + worst + " at step " + worstStep);
    }

    static double relErr(double[] a, double[] ref) {
        assertEquals(ref.length, a.length, "length");
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - ref[i]) * (a[i] - ref[i]);
            den += ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }

    static double relErr(float[] a, float[] ref) {
        double[] x = new double[a.length];
        double[] y = new double[ref.length];
        for (int i = 0; i < a.length; i++) {
            x[i] = a[i];
        }
        for (int i = 0; i < ref.length; i++) {
            y[i] = ref[i];
        }
        return relErr(x, y);
    }

    /** Replays recorded draws in order, checking each requested shape. */
    static final class ReplayNoise implements NoiseSource {
        final float[] all;
        final int[] shape;
        final int size;
        int used;

        ReplayNoise(float[] all, int[] shape, int size) {
            this.all = all;
            this.shape = shape;
            this.size = size;
        }

        @Override
        public float[] randn(int... s) {
            assertArrayEquals(shape, s, "noise shape");
            assertTrue((used + 1) * size <= all.length, "more noise draws than diffusers made (" + (used + 1) + ")");
            return Arrays.copyOfRange(all, size * used, size * ++used);
        }
    }
}
