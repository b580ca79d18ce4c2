// The scheduler factory: CLI names, config derivation as diffusers' from_config, and one-line errors.
package dev.ldm4j.diffusion.schedulers;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SchedulersTest {
    /** The scheduler_config.json of Stable Diffusion 1.5 (PNDM). */
    static Map<String, Object> sd15Config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("_class_name", "PNDMScheduler");
        c.put("_diffusers_version", "0.6.0");
        c.put("beta_end", 0.012);
        c.put("beta_schedule", "scaled_linear");
        c.put("beta_start", 0.00085);
        c.put("num_train_timesteps", 1000L);
        c.put("set_alpha_to_one", false);
        c.put("skip_prk_steps", true);
        c.put("steps_offset", 1L);
        c.put("trained_betas", null);
        c.put("clip_sample", false);
        return c;
    }

    @Test
    void unknownNameListsTheValidNames() {
        var e = assertThrows(IllegalArgumentException.class, () -> Schedulers.create("eulr", Map.of(), false));
        assertTrue(e.getMessage().contains("eulr"), e.getMessage());
        for (String n : Schedulers.names()) {
            assertTrue(e.getMessage().contains(n), e.getMessage());
        }
    }

    @Test
    void everyNameCreatesItsClassFromTheSd15Config() {
        for (String n : Schedulers.names()) {
            Scheduler s = Schedulers.create(n, sd15Config(), false);
            s.setTimesteps(20);
            assertTrue(s.timesteps().length >= 20, n);
        }
    }

    @Test
    void knownKeysKeepTheirConfigValueAndOthersTakeClassDefaults() {
        Scheduler euler = Schedulers.create("euler", sd15Config(), false);
        // beta settings come from the config ...
        assertEquals("scaled_linear", euler.config().getString("beta_schedule"));
        assertEquals(1, euler.config().getInt("steps_offset"));
        // ... timestep_spacing is absent from this old config, so Euler's own default applies.
        assertEquals("linspace", euler.config().getString("timestep_spacing"));
        assertFalse(euler.config().has("skip_prk_steps"));

        Scheduler ddim = Schedulers.create("ddim", sd15Config(), false);
        ddim.setTimesteps(10);
        // leading spacing with steps_offset 1, as diffusers' DDIM from the SD 1.5 config
        assertArrayEquals(new double[] {901, 801, 701, 601, 501, 401, 301, 201, 101, 1}, ddim.timesteps());
    }

    @Test
    void karrasIsRejectedWhereTheClassHasNoKarrasSigmas() {
        var e = assertThrows(IllegalArgumentException.class, () -> Schedulers.create("ddim", sd15Config(), true));
        assertTrue(e.getMessage().contains("Karras"), e.getMessage());
        Scheduler s = Schedulers.create("dpmpp_2m", sd15Config(), true);
        assertTrue(s.config().getBoolean("use_karras_sigmas"));
    }

    @Test
    void badConfigValueNamesTheKey() {
        Map<String, Object> c = sd15Config();
        c.put("beta_schedule", "cubic");
        var e = assertThrows(IllegalArgumentException.class, () -> Schedulers.create("euler", c, false));
        assertTrue(e.getMessage().contains("beta_schedule") && e.getMessage().contains("cubic"), e.getMessage());
    }
}
