// Maps the full-size SD 1.5 and SD 2.1 original single-file headers to diffusers names and compares
// with the independent diffusers-folder headers of the same models: every name and shape must match,
// and every original tensor must be either mapped or a known extra.
package dev.ldm4j.weights.keys;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.HeaderSource;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.TensorInfo;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OriginalLayoutCoverageTest {

    @SuppressWarnings("unchecked")
    @ParameterizedTest
    @ValueSource(strings = {"sd15", "sd21"})
    void originalHeaderMapsExactlyOntoDiffusersHeader(String model) {
        Assumptions.assumeTrue(SharedFixtures.available(), "shared conformance fixtures not found");
        var dir = SharedFixtures.conformance();
        HeaderSource original = new HeaderSource(model + " original", Json.parseObject(dir.resolve(model + "-original-fp16.header.json")));
        Map<String, Object> diffusers = Json.parseObject(dir.resolve(model + "-diffusers.header.json"));

        Map<String, Object> unetConfig = (Map<String, Object>) diffusers.get("unet_config");
        List<Object> downTypes = (List<Object>) unetConfig.get("down_block_types");
        boolean[] attention = new boolean[downTypes.size()];
        for (int i = 0; i < attention.length; i++) {
            attention[i] = ((String) downTypes.get(i)).startsWith("CrossAttn");
        }
        UNetStructure structure = new UNetStructure(((Number) unetConfig.get("layers_per_block")).intValue(), attention);
        int vaeLevels = ((List<?>) ((Map<String, Object>) diffusers.get("vae_config")).get("block_out_channels")).size();
        int textLayers = ((Number) ((Map<String, Object>) diffusers.get("text_encoder_config")).get("num_hidden_layers")).intValue();

        MappedWeightSource unet = OriginalLayout.unet(original, structure);
        MappedWeightSource vae = OriginalLayout.vae(original, vaeLevels);
        MappedWeightSource text = OriginalLayout.textEncoder(original, textLayers);

        List<String> problems = new ArrayList<>();
        compare("unet", unet, new HeaderSource("unet", (Map<String, Object>) diffusers.get("unet")), problems);
        compare("vae", vae, new HeaderSource("vae", (Map<String, Object>) diffusers.get("vae")), problems);
        compare("text_encoder", text, new HeaderSource("text_encoder", (Map<String, Object>) diffusers.get("text_encoder")), problems);
        for (MappedWeightSource m : List.of(unet, vae, text)) {
            m.unmapped().forEach(n -> problems.add("unmapped original tensor " + n));
        }

        Set<String> accounted = new HashSet<>();
        for (MappedWeightSource m : List.of(unet, vae, text)) {
            m.entries().values().forEach(e -> accounted.add(e.sourceName()));
            accounted.addAll(m.ignored());
        }
        for (String name : original.names()) {
            if (!accounted.contains(name) && !OriginalLayout.isKnownExtra(name)) {
                problems.add("original tensor neither mapped nor a known extra: " + name);
            }
        }
        assertTrue(problems.isEmpty(), model + ": " + problems.size() + " problems:\n" + String.join("\n", problems));
    }

    @ParameterizedTest
    @ValueSource(strings = {"sd15", "sd21"})
    void ignoredTensorsAreExactlyTheKnownNonWeights(String model) {
        Assumptions.assumeTrue(SharedFixtures.available(), "shared conformance fixtures not found");
        HeaderSource original = new HeaderSource(model, Json.parseObject(SharedFixtures.conformance().resolve(model + "-original-fp16.header.json")));
        int textLayers = model.equals("sd15") ? 12 : 23;
        Set<String> ignored = new TreeSet<>(OriginalLayout.textEncoder(original, textLayers).ignored());
        Set<String> expected = new TreeSet<>();
        if (model.equals("sd15")) {
            expected.add("cond_stage_model.transformer.text_model.embeddings.position_ids");
        } else {
            expected.add("cond_stage_model.model.text_projection");
            expected.add("cond_stage_model.model.logit_scale");
            for (String n : original.names()) {
                if (n.startsWith("cond_stage_model.model.transformer.resblocks.23.")) {
                    expected.add(n);
                }
            }
            assertEquals(14, expected.size(), "the last OpenCLIP block has 12 tensors");
        }
        assertEquals(expected, ignored);
    }

    private static void compare(String component, MappedWeightSource mapped, HeaderSource expected, List<String> problems) {
        for (String name : expected.names()) {
            TensorInfo got = mapped.info(name);
            if (got == null) {
                problems.add(component + ": missing " + name);
            } else if (!Arrays.equals(got.shape(), expected.info(name).shape())) {
                problems.add(component + ": " + name + " has shape " + Arrays.toString(got.shape()) + " from "
                        + mapped.entries().get(name).sourceName() + ", expected " + Arrays.toString(expected.info(name).shape()));
            }
        }
        for (String name : mapped.names()) {
            if (expected.info(name) == null) {
                problems.add(component + ": unexpected " + name + " (from " + mapped.entries().get(name).sourceName() + ")");
            }
        }
    }
}
