// Every scheduler setup of the shared fixtures (diffusers' schedulers with their full configs, at 10
// and 25 steps) reproduced from the same config: identical timesteps, and sigmas and the whole
// trajectory of a fixed analytic "model" within relative error 1e-4, with recorded noise replayed.
// Timesteps that diffusers derives from sigmas through float32 logarithms (Karras schedules with
// fractional timesteps, KDPM2's interpolated ones) may differ in the last float32 bits of the log.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.ReplayNoise;
import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SchedulerConformanceTest {
    /** Relative error ‖ours − ref‖ / ‖ref‖ allowed for sigmas and for each trajectory state. */
    static final double TOLERANCE = 1e-4;
    /** Non-integer reference timesteps (from float32 logs): allowed absolute difference, 2 float32 ulps at 1000. */
    static final double FRACTIONAL_TIMESTEP_TOLERANCE = 1.25e-4;

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
            double diff = Math.abs(t[i] - refT[i]);
            worstT = Math.max(worstT, diff);
            boolean integer = refT[i] == Math.rint(refT[i]);
            assertTrue(integer ? diff == 0 : diff <= FRACTIONAL_TIMESTEP_TOLERANCE,
                    key + ": timestep " + i + " is " + t[i] + ", diffusers has " + refT[i] + " (all: " + Arrays.toString(t) + ")");
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
        ReplayNoise noise = new ReplayNoise();
        for (int d = 0; d < draws; d++) {
            noise.add(Arrays.copyOfRange(allNoise, d * size, (d + 1) * size), shape);
        }

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
        assertEquals(draws, noise.used(), key + ": number of noise draws (diffusers drew " + draws + ")");
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
}
