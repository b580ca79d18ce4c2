// Restart sampling (Xu et al. 2023): with K = 0 it is its base sampler bit for bit; its schedule runs the base down to
// the level nearest t_min, then K passes from t_max to that level; each restart adds forward noise of standard
// deviation sqrt(t_max^2 - t_min^2) drawn from the run's generator; image-to-image entry points skip the passes; and
// only ODE samplers are taken.
package dev.ldm4j.diffusion.schedulers;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RestartSchedulerTest {
    private static Scheduler create(String name) {
        return Schedulers.create(name, new LinkedHashMap<>(SchedulersTest.sd15Config()), false);
    }

    private static RestartScheduler restart(String name, RestartScheduler.Settings settings, int steps) {
        RestartScheduler s = new RestartScheduler(create(name), settings);
        s.setTimesteps(steps);
        return s;
    }

    @Test
    void withNoRestartsItIsTheBaseSamplerBitForBit() {
        for (String name : new String[] {"euler", "heun"}) {
            RestartScheduler none = new RestartScheduler(create(name), new RestartScheduler.Settings(0.1, 2, 0, 9));
            float[] want = SchedulerBehaviourTest.run(create(name), 12, 3);
            assertArrayEquals(want, SchedulerBehaviourTest.run(none, 12, 3), 0f, name);
            Scheduler base = create(name);
            base.setTimesteps(12);
            assertArrayEquals(base.timesteps(), none.timesteps(), name);
        }
    }

    @Test
    void theScheduleRunsDownToTMinThenKPassesFromTMaxToTMin() {
        RestartScheduler.Settings sd = RestartScheduler.Settings.SD;                      // [0.1, 2], K = 2, N = 9
        for (String name : new String[] {"euler", "heun"}) {
            Scheduler base = create(name);
            base.setTimesteps(20);
            RestartScheduler s = restart(name, sd, 20);
            int perStep = name.equals("heun") ? 2 : 1;
            int passLength = perStep * sd.steps();
            assertEquals(base.timesteps().length + sd.iterations() * passLength, s.timesteps().length, name);
            // t_min is the base's level nearest 0.1; the entry after the base lands there starts a pass at t_max.
            double[] levels = base.sigmas();
            double nearest = Double.MAX_VALUE;
            for (double l : levels) {
                if (l > 0 && Math.abs(l - 0.1) < Math.abs(nearest - 0.1)) {
                    nearest = l;
                }
            }
            assertEquals(nearest, s.restartFrom(), 0, name);
            int firstPass = -1;
            for (int i = 1; i < s.timesteps().length; i++) {
                if (s.sigmaAt(i) > 1.5 * s.sigmaAt(i - 1)) {                                // a jump up: a restart
                    assertEquals(sd.tMax(), s.sigmaAt(i), 2e-3 * sd.tMax(), name + " entry " + i);
                    firstPass = firstPass < 0 ? i : firstPass;
                }
            }
            assertTrue(firstPass > 0, name + ": no restart in the schedule");
            for (int k = 0; k < sd.iterations(); k++) {
                assertEquals(sd.tMax(), s.sigmaAt(firstPass + k * passLength), 2e-3 * sd.tMax(), name + " pass " + k);
            }
            // After the passes the base continues where it left off.
            int after = firstPass + sd.iterations() * passLength;
            assertEquals(base.sigmaAt(firstPass), s.sigmaAt(after), 0, name);
            assertEquals(base.timesteps().length - firstPass, s.timesteps().length - after, name);
        }
    }

    @Test
    void itRestartsAroundKarrasSigmasAndHandGivenSigmasToo() {
        Scheduler karras = Schedulers.create("heun", new LinkedHashMap<>(SchedulersTest.sd15Config()), true);
        RestartScheduler s = new RestartScheduler(karras, RestartScheduler.Settings.SD);
        s.setTimesteps(10);
        assertEquals(2 * 10 - 1 + 2 * 2 * 9, s.timesteps().length);
        RestartScheduler custom = new RestartScheduler(create("euler"), new RestartScheduler.Settings(1, 5, 1, 3));
        custom.setCustomSigmas(CustomSchedule.alignYourStepsSigmas().values());
        assertEquals(10 + 3, custom.timesteps().length);
        assertEquals(0.963, custom.restartFrom(), 1e-6, "the AYS level nearest 1");
        assertEquals(1.396, custom.sigmaAt(5), 1e-3);                                        // the step that lands on 0.963
        assertEquals(5, custom.sigmaAt(6), 1e-2);                                            // then the pass from t_max
    }

    @Test
    void eachRestartAddsForwardNoiseFromTMinToTMaxDrawnFromTheRunsGenerator() {
        // A model whose denoised estimate is the sample itself (eps = 0) leaves the ODE steps still: what changes the
        // sample is the restarts alone, x += sqrt(t_max^2 - t_min^2) z per restart, z the generator's next draws.
        for (String name : new String[] {"euler", "heun"}) {
            RestartScheduler s = restart(name, new RestartScheduler.Settings(0.3, 3, 2, 4), 10);
            SchedulerBehaviourTest.SeededNoise noise = new SchedulerBehaviourTest.SeededNoise(8);
            float[] x = noise.randn(SchedulerBehaviourTest.SHAPE);
            for (int i = 0; i < s.timesteps().length; i++) {
                x = s.step(new float[x.length], i, x, SchedulerBehaviourTest.SHAPE, noise);
            }
            assertEquals(3, noise.shapes.size(), name + ": the start and one draw per restart");
            SchedulerBehaviourTest.SeededNoise replay = new SchedulerBehaviourTest.SeededNoise(8);
            float[] x0 = replay.randn(SchedulerBehaviourTest.SHAPE);
            float[] z1 = replay.randn(SchedulerBehaviourTest.SHAPE);
            float[] z2 = replay.randn(SchedulerBehaviourTest.SHAPE);
            double amp = Math.sqrt(3.0 * 3.0 - s.restartFrom() * s.restartFrom());
            for (int k = 0; k < x.length; k++) {
                assertEquals(x0[k] + amp * z1[k] + amp * z2[k], x[k], 1e-5, name + " value " + k);
            }
        }
    }

    @Test
    void imageToImageStartingBelowTheRestartSkipsThePasses() {
        RestartScheduler s = restart("euler", RestartScheduler.Settings.SD, 20);
        Scheduler base = create("euler");
        base.setTimesteps(20);
        assertEquals(0, s.entryOfStep(0));
        int late = 19;                                                                       // the last step, below t_min
        int e = s.entryOfStep(late);
        assertEquals(s.timesteps().length - 1, e);
        assertEquals(base.sigmaAt(late), s.sigmaAt(e), 0);
        float[] x = {1, 2, 3, 4};
        float[] n = {1, -1, 0.5f, 0};
        assertArrayEquals(base.addNoise(x, n, late), s.addNoise(x, n, e), 0f);
    }

    @Test
    void onlyOdeSamplersAndValidSettingsAreTaken() {
        assertThrows(IllegalArgumentException.class, () -> new RestartScheduler(create("euler_a"), RestartScheduler.Settings.SD));
        assertThrows(IllegalArgumentException.class, () -> new RestartScheduler(create("dpmpp_2m"), RestartScheduler.Settings.SD));
        Scheduler churned = SchedulerOptions.apply(create("euler"), Map.of("s_churn", 1.0));
        assertThrows(IllegalArgumentException.class, () -> new RestartScheduler(churned, RestartScheduler.Settings.SD));
        assertThrows(IllegalArgumentException.class, () -> new RestartScheduler.Settings(2, 1, 2, 9));
        assertThrows(IllegalArgumentException.class, () -> new RestartScheduler.Settings(0, 1, 2, 9));
        assertThrows(IllegalArgumentException.class, () -> new RestartScheduler.Settings(0.1, 2, -1, 9));
        assertThrows(IllegalArgumentException.class, () -> new RestartScheduler.Settings(0.1, 2, 1, 0));
        IllegalArgumentException tooShort = assertThrows(IllegalArgumentException.class, () -> restart("euler", RestartScheduler.Settings.SD, 1));
        assertTrue(tooShort.getMessage().contains("at least 2 steps"), tooShort.getMessage());
    }
}
