// VaeConfig: sd() agrees with the published SD 1.5 / 2.1 VAE configs; the tiny fixture configs parse.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.WeightException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class VaeConfigTest {
    @Test
    @SuppressWarnings("unchecked")
    void sdFactoryMatchesPublishedConfigs() {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        for (String f : List.of("sd15-diffusers.header.json", "sd21-diffusers.header.json")) {
            Map<String, Object> h = Json.parseObject(SharedFixtures.conformance().resolve(f));
            assertEquals(VaeConfig.sd(), VaeConfig.fromJson((Map<String, Object>) h.get("vae_config")), f);
        }
    }

    @Test
    void tinyFixtureConfigParses() {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        VaeConfig c = VaeConfig.fromJson(Json.parseObject(SharedFixtures.conformance().resolve("sd1-tiny/vae/config.json")));
        assertEquals(List.of(32, 32, 64, 64), c.blockOutChannels());
        assertEquals(0.18215, c.scalingFactor());
        assertEquals(8, c.downFactor());
    }

    @Test
    void wrongBlockTypeFailsNamingIt() {
        var e = assertThrows(WeightException.class, () -> VaeConfig.fromJson(Map.of("block_out_channels", List.of(32L),
                "down_block_types", List.of("AttnDownEncoderBlock2D"))));
        assertTrue(e.getMessage().contains("down_block_types"), e.getMessage());
    }
}
