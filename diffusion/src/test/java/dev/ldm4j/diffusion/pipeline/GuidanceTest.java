// Guidance switches: classifier-free guidance with diffusers' rescale_noise_cfg (Lin et al. 2023) against the formula
// computed here in float64, and in the sampling loop on the tiny SD 1.x model: rescale 0 and an interval holding every
// sigma change nothing, an interval holding none is the unguided run, a partial interval or a rescale change the run,
// and a custom schedule runs as the scheduler's own.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.CustomSchedule;
import dev.ldm4j.diffusion.schedulers.CustomScheduleException;
import dev.ldm4j.diffusion.schedulers.Scheduler;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GuidanceTest {
    @Test
    void rescaleIsDiffusersRescaleNoiseCfgComputedInFloat64() {
        int batch = 3;
        int n = 4 * 5 * 7;
        Random r = new Random(17);
        float[] prediction = new float[2 * batch * n];                 // [uncond x 3, cond x 3], each [4, 5, 7]
        for (int i = 0; i < prediction.length; i++) {
            prediction[i] = (float) (r.nextGaussian() * (1 + (i / n) % 3));
        }
        double g = 7.5;
        double phi = 0.7;
        float[] got = Guidance.classifierFree(prediction, (float) g);
        Guidance.rescale(got, prediction, batch, phi);
        for (int b = 0; b < batch; b++) {
            double[] cfg = new double[n];
            double[] text = new double[n];
            for (int i = 0; i < n; i++) {
                double u = prediction[b * n + i];
                text[i] = prediction[(batch + b) * n + i];
                cfg[i] = u + g * (text[i] - u);
            }
            double ratio = unbiasedStd(text) / unbiasedStd(cfg);
            for (int i = 0; i < n; i++) {
                double want = phi * (cfg[i] * ratio) + (1 - phi) * cfg[i];
                assertEquals(want, got[b * n + i], 1e-5 * Math.max(1, Math.abs(want)), "image " + b + " element " + i);
            }
        }
    }

    private static double unbiasedStd(double[] x) {
        double mean = Arrays.stream(x).average().orElseThrow();
        double ss = Arrays.stream(x).map(v -> (v - mean) * (v - mean)).sum();
        return Math.sqrt(ss / (x.length - 1));
    }

    @Test
    void badSwitchValuesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> SamplingOptions.DEFAULT.withGuidanceRescale(1.5));
        assertThrows(IllegalArgumentException.class, () -> SamplingOptions.DEFAULT.withGuidanceRescale(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> new GuidanceInterval(2, 1));
        assertThrows(IllegalArgumentException.class, () -> new GuidanceInterval(-1, 1));
        assertTrue(new GuidanceInterval(1, Double.POSITIVE_INFINITY).contains(1e6));
    }

    // ---- in the sampling loop, sd1-tiny

    private static Backend backend;
    private static StableDiffusionPipeline pipe;

    @BeforeAll
    static void load() {
        if (!SharedFixtures.available()) {
            return;
        }
        backend = Backends.create("cpu");
        pipe = StableDiffusionPipeline.load(SharedFixtures.conformance().resolve("sd1-tiny"), null, null, backend);
    }

    @AfterAll
    static void close() {
        if (pipe != null) {
            pipe.close();
        }
    }

    private static GenerationRequest request(double guidance) {
        return GenerationRequest.textToImage("a red apple on a wooden table").withSteps(4).withSize(64, 64)
                .withGuidanceScale(guidance).withSeed(3).withScheduler("euler", false);
    }

    private static float[] run(GenerationRequest req, SamplingOptions options) {
        return pipe.generate(req, options, pipe.scheduler(req.scheduler(), req.karras()), new TorchGenerator(req.seed()),
                StepListener.NONE).latents();
    }

    @Test
    void rescaleZeroAndAnIntervalOfEverySigmaChangeNothing() {
        assumeTrue(pipe != null, "shared fixtures not present");
        float[] plain = run(request(7.5), SamplingOptions.DEFAULT);
        SamplingOptions neutral = SamplingOptions.DEFAULT.withGuidanceRescale(0).withGuidanceInterval(new GuidanceInterval(0, Double.POSITIVE_INFINITY));
        assertArrayEquals(plain, run(request(7.5), neutral));
    }

    @Test
    void anIntervalOfNoSigmaIsTheUnguidedRunAndAPartialOneIsNeither() {
        assumeTrue(pipe != null, "shared fixtures not present");
        float[] unguided = run(request(1.0), SamplingOptions.DEFAULT);
        float[] guided = run(request(7.5), SamplingOptions.DEFAULT);
        float[] none = run(request(7.5), SamplingOptions.DEFAULT.withGuidanceInterval(new GuidanceInterval(100, 200)));
        assertArrayEquals(unguided, none, 1e-6f, "no step guided: each step is the conditional prediction alone");

        Scheduler euler = pipe.scheduler("euler", false);
        euler.setTimesteps(4);
        double middle = euler.sigmaAt(2);                            // guide only the last two steps
        float[] partial = run(request(7.5), SamplingOptions.DEFAULT.withGuidanceInterval(new GuidanceInterval(0, middle)));
        assertFalse(Arrays.equals(partial, guided));
        assertFalse(Arrays.equals(partial, unguided));
    }

    @Test
    void rescaleChangesAGuidedRunOnly() {
        assumeTrue(pipe != null, "shared fixtures not present");
        float[] guided = run(request(7.5), SamplingOptions.DEFAULT);
        assertFalse(Arrays.equals(guided, run(request(7.5), SamplingOptions.DEFAULT.withGuidanceRescale(0.7))));
        float[] unguided = run(request(1.0), SamplingOptions.DEFAULT);
        assertArrayEquals(unguided, run(request(1.0), SamplingOptions.DEFAULT.withGuidanceRescale(0.7)), "no guidance, nothing to rescale");
    }

    @Test
    void aCustomScheduleSetsTheStepsAndIsRefusedByASchedulerWithoutIt() {
        assumeTrue(pipe != null, "shared fixtures not present");
        Scheduler euler = pipe.scheduler("euler", false);
        euler.setTimesteps(4);
        CustomSchedule own = new CustomSchedule(CustomSchedule.Kind.SIGMAS, euler.sigmas());
        GenerationRequest req = request(7.5).withSteps(50);           // the schedule, not the request, sets the steps
        // Given sigmas, each step's timestep is found from its sigma (_sigma_to_t, log-linear), not the spaced one the
        // sigma was interpolated at (linear), so the U-Net sees timesteps a fraction apart: close, not equal.
        assertArrayEquals(run(request(7.5), SamplingOptions.DEFAULT), run(req, SamplingOptions.DEFAULT.withSchedule(own)), 1e-4f);
        GenerationRequest ddim = request(7.5).withScheduler("ddim", false);
        var e = assertThrows(CustomScheduleException.class, () -> run(ddim, SamplingOptions.DEFAULT.withSchedule(own)));
        assertEquals(CustomSchedule.Kind.SIGMAS, e.kind());
    }
}
