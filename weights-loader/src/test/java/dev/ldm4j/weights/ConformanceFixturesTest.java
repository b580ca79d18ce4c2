// The done-when check of the loader: the float16 original-layout checkpoint and the float32
// diffusers folder of sd1-tiny hold the same numbers (the fixtures README guarantees the weights
// are exactly representable in float16), so corresponding tensors must agree exactly.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ConformanceFixturesTest {
    @BeforeEach
    void needsSharedFixtures() {
        Assumptions.assumeTrue(SharedFixtures.available(), "shared conformance fixtures not found");
    }

    @Test
    void float16SingleFileEqualsFloat32DiffusersUnet() {
        Path single = SharedFixtures.conformance().resolve("sd1-tiny.safetensors");
        Path unet = SharedFixtures.conformance().resolve("sd1-tiny/unet/diffusion_pytorch_model.safetensors");
        Map<String, String> corresponding = Map.of(
                "model.diffusion_model.input_blocks.0.0.weight", "conv_in.weight",
                "model.diffusion_model.input_blocks.0.0.bias", "conv_in.bias",
                "model.diffusion_model.out.2.weight", "conv_out.weight",
                "model.diffusion_model.time_embed.0.weight", "time_embedding.linear_1.weight",
                "model.diffusion_model.time_embed.2.bias", "time_embedding.linear_2.bias");
        try (SafetensorsFile original = SafetensorsFile.open(single); SafetensorsFile diffusers = SafetensorsFile.open(unet)) {
            for (var e : corresponding.entrySet()) {
                assertEquals(DType.F16, original.info(e.getKey()).dtype(), e.getKey());
                assertEquals(DType.F32, diffusers.info(e.getValue()).dtype(), e.getValue());
                assertArrayEquals(diffusers.info(e.getValue()).shape(), original.info(e.getKey()).shape(), e.getKey());
                float[] a = original.tensor(e.getKey()).toFloatArray();
                float[] b = diffusers.tensor(e.getValue()).toFloatArray();
                assertArrayEquals(b, a, 0f, e.getKey() + " vs " + e.getValue());
            }
        }
    }

    @Test
    void everyConformanceFileOpensAndEveryTensorReads() {
        for (String name : new String[]{"sd1-tiny.safetensors", "sd2-tiny.safetensors", "randn.safetensors", "schedulers.safetensors",
                "sd1-tiny/unet/diffusion_pytorch_model.safetensors", "sd1-tiny/golden.safetensors"}) {
            try (WeightSource s = WeightSources.open(SharedFixtures.conformance().resolve(name))) {
                for (String t : s.names()) {
                    assertEquals(s.info(t).numel(), s.tensor(t).toFloatArray().length, name + " " + t);
                }
            }
        }
    }
}
