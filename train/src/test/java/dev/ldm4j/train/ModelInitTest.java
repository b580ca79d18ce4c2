// A new model has exactly the tensors (names and shapes) of a diffusers model of the same config, here the
// tiny SD 1.x and 2.x models of the conformance fixtures, and a fixed seed gives fixed weights.
package dev.ldm4j.train;

import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.WeightSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelInitTest {
    private static Map<String, String> shapes(WeightSource s) {
        Map<String, String> m = new TreeMap<>();
        for (String n : s.names()) {
            if (s.info(n).dtype().isFloating()) {
                m.put(n, java.util.Arrays.toString(s.info(n).shape()));
            }
        }
        return m;
    }

    @ParameterizedTest
    @ValueSource(strings = {"sd1-tiny", "sd2-tiny"})
    void newModelsHaveTheTensorsOfTheReferenceModels(String name) {
        Path dir = ModelGradientsTest.model(name);
        try (SafetensorsFile unet = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"));
             SafetensorsFile vae = SafetensorsFile.open(dir.resolve("vae/diffusion_pytorch_model.safetensors"));
             SafetensorsFile text = SafetensorsFile.open(dir.resolve("text_encoder/model.safetensors"))) {
            assertEquals(shapes(unet), shapes(ModelInit.unet(UNetConfig.fromJson(Json.parseObject(dir.resolve("unet/config.json"))), 1)));
            assertEquals(shapes(vae), shapes(ModelInit.vae(VaeConfig.fromJson(Json.parseObject(dir.resolve("vae/config.json"))), 1)));
            assertEquals(shapes(text), shapes(ModelInit.textEncoder(ClipTextConfig.fromJson(Json.parseObject(dir.resolve("text_encoder/config.json"))), 1)));
        }
    }

    @Test
    void initializationFollowsPyTorchDefaultsAndTheSeed() {
        Map<String, Object> arch = Architectures.shapes();
        UNetConfig c = UNetConfig.fromJson(Architectures.section(arch, "unet"));
        TrainableWeights a = ModelInit.unet(c, 7), b = ModelInit.unet(c, 7), other = ModelInit.unet(c, 8);
        Tensor w = a.tensor("conv_in.weight");                               // [64, 4, 3, 3]: fan_in 36
        assertArrayEquals(w.toFloatArray(), b.tensor("conv_in.weight").toFloatArray());
        assertTrue(!java.util.Arrays.equals(w.toFloatArray(), other.tensor("conv_in.weight").toFloatArray()));
        double bound = 1 / Math.sqrt(36), max = 0, sumSq = 0;
        for (float v : w.toFloatArray()) {
            max = Math.max(max, Math.abs(v));
            sumSq += v * v;
        }
        assertTrue(max <= bound, "kaiming-uniform bound");
        double std = Math.sqrt(sumSq / w.numel());
        assertEquals(bound / Math.sqrt(3), std, 0.1 * bound, "the standard deviation of U(-b, b) is b / sqrt 3");
        for (float v : a.tensor("conv_norm_out.weight").toFloatArray()) {
            assertEquals(1f, v);
        }
        for (float v : a.tensor("conv_norm_out.bias").toFloatArray()) {
            assertEquals(0f, v);
        }
    }
}
