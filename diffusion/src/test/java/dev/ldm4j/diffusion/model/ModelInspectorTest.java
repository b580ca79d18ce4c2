// The inspect report on the four tiny inputs, on broken checkpoints (reported by tensor name), and
// clean one-line refusals of bad paths.
package dev.ldm4j.diffusion.model;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.SafetensorsWriter;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelInspectorTest {
    private Path conf;

    @BeforeEach
    void fixtures() {
        Assumptions.assumeTrue(SharedFixtures.available(), "shared conformance fixtures not found");
        conf = SharedFixtures.conformance();
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"sd1-tiny, folder, Stable Diffusion 1.x", "sd1-tiny, file, Stable Diffusion 1.x",
            "sd2-tiny, folder, Stable Diffusion 2.x", "sd2-tiny, file, Stable Diffusion 2.x"})
    void reportsArchitectureComponentsAndACleanLoad(String model, String kind, String family) {
        boolean file = kind.equals("file");
        String report = ModelInspector.inspect(file ? conf.resolve(model + ".safetensors") : conf.resolve(model),
                file ? conf.resolve(model) : null);
        assertTrue(report.contains("Architecture: " + family), report);
        assertTrue(report.contains(file ? "original single-file" : "diffusers folder"), report);
        assertTrue(report.contains("every tensor present with the expected shape and used by a model"), report);
        assertTrue(report.contains(file ? "F16" : "F32"), report);
        for (String c : new String[] {"text_encoder", "unet", "vae"}) {
            assertTrue(report.contains("  " + c + " "), report);
        }
        assertTrue(report.contains("Unrecognized: none"), report);
        // sd1-tiny.safetensors: 12 DDPM schedule buffers + position_ids; sd2-tiny.safetensors: 12 buffers,
        // text_projection, logit_scale and the 12 tensors of the unused last OpenCLIP block.
        String setAside = !file ? "Set aside:    none" : model.equals("sd1-tiny") ? "Set aside:    13 tensors" : "Set aside:    26 tensors";
        assertTrue(report.contains(setAside), report);
    }

    @Test
    void missingAndExtraTensorsAreReportedByName(@TempDir Path dir) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(conf.resolve("sd1-tiny.safetensors"))) {
            for (String n : f.names()) {
                if (!n.equals("first_stage_model.decoder.norm_out.bias")) {
                    tensors.put(n, f.tensor(n));
                }
            }
            tensors.put("model.diffusion_model.mystery.weight", Tensor.zeros(3));
            Path broken = dir.resolve("broken.safetensors");
            SafetensorsWriter.write(broken, tensors);
            String report = ModelInspector.inspect(broken, conf.resolve("sd1-tiny"));
            assertTrue(report.contains("decoder.conv_norm_out.bias"), report);
            assertTrue(report.contains("model.diffusion_model.mystery.weight"), report);
        }
    }

    @Test
    void badInputIsRefusedInOneLine(@TempDir Path dir) throws IOException {
        Path garbage = dir.resolve("garbage.safetensors");
        Files.write(garbage, new byte[] {1, 2, 3});
        for (Path p : new Path[] {dir.resolve("missing"), dir, garbage}) {
            ModelException e = assertThrows(ModelException.class, () -> ModelInspector.inspect(p, null));
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
        }
        ModelException e = assertThrows(ModelException.class, () -> ModelInspector.inspect(conf.resolve("sd1-tiny.safetensors"), dir.resolve("nope")));
        org.junit.jupiter.api.Assertions.assertEquals(ModelException.Fix.CONFIG_FOLDER, e.fix(), e.getMessage());
    }
}
