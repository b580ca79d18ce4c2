// Scheduler options as a run gives them: step() arguments (eta, the Euler churn) take effect, config
// keys must keep their value, and anything else is refused with the keys that would work.
package dev.ldm4j.diffusion.schedulers;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SchedulerOptionsTest {
    private static Scheduler create(String name, Map<String, Object> options) {
        Map<String, Object> config = new LinkedHashMap<>(SchedulersTest.sd15Config());
        config.putAll(options);
        return SchedulerOptions.apply(Schedulers.create(name, config, false), options);
    }

    @Test
    void etaReachesDdimAndTcd() {
        assertEquals(0.5, ((DDIMScheduler) create("ddim", Map.of("eta", 0.5))).eta());
        assertEquals(0.0, ((TCDScheduler) create("tcd", Map.of("eta", 0L))).eta());
        assertEquals(List.of("eta"), SchedulerOptions.stepArguments(create("ddim", Map.of())));
    }

    @Test
    void ddimWithEtaDrawsNoiseAndChangesTheTrajectory() {
        float[] plain = SchedulerBehaviourTest.run(create("ddim", Map.of()), 5, 7);
        float[] eta = SchedulerBehaviourTest.run(create("ddim", Map.of("eta", 1.0)), 5, 7);
        assertTrue(!java.util.Arrays.equals(plain, eta), "eta = 1 adds noise at each step");
    }

    @Test
    void eulerChurnArgumentsTakeEffect() {
        Scheduler s = create("euler", Map.of("s_churn", 1.0));
        s.setTimesteps(4);
        SchedulerBehaviourTest.SeededNoise noise = new SchedulerBehaviourTest.SeededNoise(3);
        float[] x = new float[SchedulerBehaviourTest.SIZE];
        for (int i = 0; i < 4; i++) {
            x = s.step(new float[x.length], i, x, SchedulerBehaviourTest.SHAPE, noise);
        }
        assertEquals(4, noise.shapes.size(), "s_churn > 0 draws noise at every step");
    }

    @Test
    void configKeysTakeEffect() {
        Scheduler s = create("ddim", Map.of("timestep_spacing", "trailing", "clip_sample", false));
        assertEquals("trailing", s.config().getString("timestep_spacing"));
    }

    @Test
    void unknownKeysAreRefusedWithTheValidOnes() {
        var e = assertThrows(SchedulerOptionException.class, () -> create("ddim", Map.of("nope", 1L)));
        assertEquals("nope", e.key());
        assertTrue(e.getMessage().contains("'nope' is not an option of DDIMScheduler") && e.getMessage().contains("timestep_spacing")
                && e.getMessage().endsWith(" eta"), e.getMessage());
        // DDPM's and Euler a's step() take no eta (diffusers' pipeline drops it for them).
        var ddpm = assertThrows(SchedulerOptionException.class, () -> create("ddpm", Map.of("eta", 0.5)));
        assertTrue(ddpm.getMessage().contains("'eta' is not an option of DDPMScheduler") && !ddpm.getMessage().contains(" eta"), ddpm.getMessage());
        assertThrows(SchedulerOptionException.class, () -> create("euler_a", Map.of("eta", 0.5)));
    }

    @Test
    void aKeyTheSchedulerNameFixesIsRefused() {
        var e = assertThrows(SchedulerOptionException.class, () -> create("dpmpp_2m", Map.of("algorithm_type", "dpmsolver")));
        assertTrue(e.getMessage().contains("fixes algorithm_type = dpmsolver++"), e.getMessage());
        create("dpmpp_2m", Map.of("algorithm_type", "dpmsolver++", "solver_order", 2.0)); // the same value is fine
    }

    @Test
    void aStepArgumentMustBeANumber() {
        var e = assertThrows(SchedulerOptionException.class, () -> create("ddim", Map.of("eta", "lots")));
        assertEquals("eta must be a number, got 'lots'", e.getMessage());
    }
}
