// Custom schedules as diffusers' set_timesteps(timesteps=...) / set_timesteps(sigmas=...): a scheduler given its own
// computed schedule by hand samples exactly as it does from a step count; AYS is the published schedule; schedulers
// without the argument refuse it by name; sigmaAt inverts the timestep of each step.
package dev.ldm4j.diffusion.schedulers;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CustomScheduleTest {
    private static Scheduler create(String name, boolean karras) {
        return Schedulers.create(name, new LinkedHashMap<>(SchedulersTest.sd15Config()), karras);
    }

    /** The run of SchedulerBehaviourTest.run, with the schedule already set. */
    private static float[] runSet(Scheduler s, long seed) {
        SchedulerBehaviourTest.SeededNoise noise = new SchedulerBehaviourTest.SeededNoise(seed);
        float[] x = noise.randn(SchedulerBehaviourTest.SHAPE);
        for (int k = 0; k < x.length; k++) {
            x[k] *= (float) s.initNoiseSigma();
        }
        double[] t = s.timesteps();
        for (int i = 0; i < t.length; i++) {
            float[] in = s.scaleModelInput(x, i);
            float[] eps = new float[in.length];
            for (int k = 0; k < eps.length; k++) {
                eps[k] = (float) (0.8 * in[k] + 0.05 * Math.cos(t[i] / 1000 * Math.PI / 2));
            }
            x = s.step(eps, i, x, SchedulerBehaviourTest.SHAPE, noise);
        }
        return x;
    }

    @Test
    void ownTimestepsGivenByHandSampleAsTheStepCountDoes() {
        for (String name : new String[] {"euler", "ddpm", "dpmpp_2m", "dpmpp_2m_sde"}) {
            Scheduler counted = create(name, false);
            counted.setTimesteps(9);
            Scheduler custom = create(name, false);
            custom.setCustomTimesteps(counted.timesteps());
            assertArrayEquals(counted.timesteps(), custom.timesteps(), name);
            assertArrayEquals(counted.sigmas(), custom.sigmas(), name);
            float[] want = runSet(counted, 4);
            assertArrayEquals(want, runSet(custom, 4), 0f, name);
        }
    }

    @Test
    void eulerGivenKarrasSigmasByHandSamplesAsKarras() {
        Scheduler karras = create("euler", true);
        karras.setTimesteps(7);
        Scheduler custom = create("euler", false);
        custom.setCustomSigmas(karras.sigmas());
        assertArrayEquals(karras.sigmas(), custom.sigmas());
        assertArrayEquals(karras.timesteps(), custom.timesteps(), 1e-3);
        assertArrayEquals(runSet(karras, 2), runSet(custom, 2), 1e-5f);
    }

    @Test
    void ddpmWithSparseTimestepsStepsToTheNextOneGiven() {
        Scheduler s = create("ddpm", false);
        s.setCustomTimesteps(new double[] {999, 500, 20});
        assertEquals(3, s.timesteps().length);
        float[] x = runSet(s, 1);
        for (float v : x) {
            assertTrue(Float.isFinite(v));
        }
    }

    @Test
    void alignYourStepsIsThePublishedSd15Schedule() {
        CustomSchedule sig = CustomSchedule.alignYourStepsSigmas();
        // diffusers' AysSchedules["StableDiffusionSigmas"]: NVIDIA's 11 points with sigma_min replaced by 0.
        assertArrayEquals(new double[] {14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.0}, sig.values());
        assertEquals(10, sig.steps());
        CustomSchedule ts = CustomSchedule.alignYourStepsTimesteps();
        // diffusers' AysSchedules["StableDiffusionTimesteps"]: the first 10 of NVIDIA's points.
        assertArrayEquals(new double[] {999, 850, 736, 645, 545, 455, 343, 233, 124, 24}, ts.values());
        assertEquals(10, ts.steps());

        Scheduler euler = create("euler", false);
        sig.applyTo(euler);
        assertEquals(10, euler.timesteps().length);
        // SD 1.5's largest train sigma is 14.6146: AYS starts there, at the last train timestep.
        assertEquals(999, euler.timesteps()[0], 0.1);
        assertEquals(0.0, euler.sigmas()[10]);
        for (int i = 0; i < 10; i++) {
            assertEquals(sig.values()[i], euler.sigmaAt(i), 1e-4 * sig.values()[i], "sigmaAt inverts the timestep of step " + i);
        }
        Scheduler ddpm = create("ddpm", false);
        ts.applyTo(ddpm);
        assertArrayEquals(ts.values(), ddpm.timesteps());
    }

    @Test
    void schedulersWithoutTheArgumentRefuseItByName() {
        double[] t = {900, 500, 100};
        var eulerA = assertThrows(CustomScheduleException.class, () -> create("euler_a", false).setCustomTimesteps(t));
        assertEquals("custom timesteps is not an argument of EulerAncestralDiscreteScheduler.set_timesteps in diffusers 0.31;"
                + " schedulers that take them: ddpm, dpmpp_2m, dpmpp_2m_sde and euler", eulerA.getMessage());
        var heun = assertThrows(CustomScheduleException.class, () -> create("heun", false).setCustomTimesteps(t));
        assertTrue(heun.getMessage().startsWith("custom timesteps is not implemented in ldm4j for HeunDiscreteScheduler yet"), heun.getMessage());
        var ddim = assertThrows(CustomScheduleException.class, () -> create("ddim", false).setCustomSigmas(new double[] {3, 1, 0}));
        assertEquals(CustomSchedule.Kind.SIGMAS, ddim.kind());
        assertThrows(CustomScheduleException.class, () -> create("euler", true).setCustomTimesteps(t));   // not with Karras, as diffusers
        var whole = assertThrows(CustomScheduleException.class, () -> create("ddpm", false).setCustomTimesteps(new double[] {900.5, 3}));
        assertTrue(whole.getMessage().contains("takes whole timesteps"), whole.getMessage());
        assertThrows(CustomScheduleException.class, () -> create("dpmpp_2m", false).setCustomTimesteps(new double[] {1000, 3}));
        assertThrows(IllegalArgumentException.class, () -> new CustomSchedule(CustomSchedule.Kind.TIMESTEPS, new double[] {10, 10}));
        assertThrows(IllegalArgumentException.class, () -> new CustomSchedule(CustomSchedule.Kind.SIGMAS, new double[] {1}));
        assertThrows(IllegalArgumentException.class, () -> new CustomSchedule(CustomSchedule.Kind.SIGMAS, new double[] {1, -1}));
    }

    @Test
    void sigmaAtIsTheTrainSigmaOfTheStepsTimestep() {
        Scheduler ddim = create("ddim", false);
        ddim.setTimesteps(10);
        float[] ac = NoiseSchedule.alphasCumprod(NoiseSchedule.betas(ddim.config()));
        for (int i = 0; i < 10; i++) {
            int t = (int) ddim.timesteps()[i];
            assertEquals(Math.sqrt((1 - ac[t]) / ac[t]), ddim.sigmaAt(i), 1e-6 * ddim.sigmaAt(i));
        }
        Scheduler karras = create("dpmpp_2m", true);
        karras.setTimesteps(10);
        assertEquals(karras.sigmas()[0], karras.sigmaAt(0), 1e-3 * karras.sigmas()[0]);
    }
}
