// UNetConfig: the named factories agree with the published diffusers configs (from the conformance
// headers), the tiny fixtures' config.json files parse, and bad configs fail with one-line messages.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.WeightException;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class UNetConfigTest {
    @SuppressWarnings("unchecked")
    private static Map<String, Object> headerConfig(String file) {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        Map<String, Object> h = Json.parseObject(SharedFixtures.conformance().resolve(file));
        return (Map<String, Object>) h.get("unet_config");
    }

    @Test
    void sd15FactoryMatchesPublishedConfig() {
        assertEquals(UNetConfig.sd15(), UNetConfig.fromJson(headerConfig("sd15-diffusers.header.json")));
    }

    @Test
    void sd21FactoryMatchesPublishedConfig() {
        assertEquals(UNetConfig.sd21(), UNetConfig.fromJson(headerConfig("sd21-diffusers.header.json")));
    }

    @Test
    void attentionHeadDimMeansHeadCount() {
        UNetConfig sd15 = UNetConfig.sd15();
        assertEquals(8, sd15.headsPerBlock(0));
        assertEquals(8, sd15.headsPerBlock(3));
        UNetConfig sd21 = UNetConfig.sd21();
        for (int i = 0; i < 4; i++) {
            assertEquals(64, sd21.blockOutChannels().get(i) / sd21.headsPerBlock(i), "SD 2.1 head size in block " + i);
        }
        assertEquals(UNetConfig.sd21().attentionHeadDim(), UNetConfig.defaultHeads(sd21.blockOutChannels(), true));
        assertEquals(UNetConfig.sd15().attentionHeadDim(), UNetConfig.defaultHeads(sd15.blockOutChannels(), false));
    }

    @Test
    void numAttentionHeadsTakesPrecedence() {
        Map<String, Object> json = new LinkedHashMap<>(Map.of("attention_head_dim", 8L, "num_attention_heads", List.of(5L, 10L, 20L, 20L)));
        assertEquals(10, UNetConfig.fromJson(json).headsPerBlock(1));
    }

    @Test
    void tinyFixtureConfigsParse() {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        UNetConfig sd1 = UNetConfig.fromJson(Json.parseObject(SharedFixtures.conformance().resolve("sd1-tiny/unet/config.json")));
        assertEquals(List.of(32, 64, 64, 64), sd1.blockOutChannels());
        assertEquals(8, sd1.headsPerBlock(2));
        assertEquals(32, sd1.crossAttentionDim());
        assertFalse(sd1.useLinearProjection());
        UNetConfig sd2 = UNetConfig.fromJson(Json.parseObject(SharedFixtures.conformance().resolve("sd2-tiny/unet/config.json")));
        assertEquals(List.of(2, 4, 8, 8), List.of(sd2.headsPerBlock(0), sd2.headsPerBlock(1), sd2.headsPerBlock(2), sd2.headsPerBlock(3)));
        assertTrue(sd2.useLinearProjection());
    }

    @Test
    void unsupportedSettingsFailNamingTheKey() {
        var e = assertThrows(WeightException.class, () -> UNetConfig.fromJson(Map.of("addition_embed_type", "text_time")));
        assertTrue(e.getMessage().contains("addition_embed_type"), e.getMessage());
        var wrongType = assertThrows(WeightException.class, () -> UNetConfig.fromJson(Map.of("layers_per_block", "two")));
        assertTrue(wrongType.getMessage().contains("layers_per_block"), wrongType.getMessage());
        var heads = assertThrows(WeightException.class, () -> UNetConfig.fromJson(Map.of("attention_head_dim", 7L)));
        assertTrue(heads.getMessage().contains("attention heads"), heads.getMessage());
    }
}
