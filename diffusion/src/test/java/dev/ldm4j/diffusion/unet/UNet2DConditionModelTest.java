// UNet2DConditionModel against diffusers: the tiny SD 1.x (conv projections, 8 heads) and SD 2.x
// (linear projections, per-block heads) U-Nets from their diffusers folders, fp32 on the CPU backend,
// on the golden inputs (a batch of two with timesteps 981 and 1, and a non-square 16x24 call at 500).
// Tolerance: relative error 1e-4, as the conformance README suggests for one fp32 model call.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.diffusion.Goldens;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.ReleaseCheckingBackend;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class UNet2DConditionModelTest {
    private static final double TOLERANCE = 1e-4;

    private static Path model(String name) {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        return SharedFixtures.conformance().resolve(name);
    }

    private static UNetConfig config(Path model) {
        return UNetConfig.fromJson(Json.parseObject(model.resolve("unet/config.json")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"sd1-tiny", "sd2-tiny"})
    void matchesDiffusersOnGoldenInputs(String name) {
        Path dir = model(name);
        try (Backend backend = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"));
             WeightSource golden = SafetensorsFile.open(dir.resolve("golden.safetensors"))) {
            Params p = Params.root(weights, backend);
            UNet2DConditionModel unet = new UNet2DConditionModel(p, config(dir));
            assertEquals(Set.of(), p.unused(), "every tensor of the checkpoint is used");

            float[] timesteps = golden.tensor("unet.timesteps").toFloatArray();
            assertArrayEquals(new float[] {981, 1}, timesteps);
            Tensor out = unet.forward(backend.toDevice(Goldens.dense(golden, "unet.sample")), timesteps,
                    backend.toDevice(Goldens.dense(golden, "unet.context")));
            assertArrayEquals(new int[] {2, 4, 16, 16}, out.shape());
            double err = Goldens.relativeError(backend, out, Goldens.dense(golden, "unet.out"));
            assertTrue(err <= TOLERANCE, name + " unet.out relative error " + err);

            Tensor wide = unet.forward(backend.toDevice(Goldens.dense(golden, "unet.sample_wide")), new float[] {500},
                    backend.toDevice(Goldens.dense(golden, "unet.context_wide")));
            assertArrayEquals(new int[] {1, 4, 16, 24}, wide.shape());
            double errWide = Goldens.relativeError(backend, wide, Goldens.dense(golden, "unet.out_wide"));
            assertTrue(errWide <= TOLERANCE, name + " unet.out_wide relative error " + errWide);
        }
    }

    /**
     * The memory discipline the GPU relies on, checked on the CPU: run through ReleaseCheckingBackend,
     * every intermediate is released by the time the call returns (only the output stays live), none is
     * read after its release (the result equals the plain run's bit for bit; a released array reads NaN),
     * and memory is reused along the way (the peak of live results is well under what the call made).
     */
    @ParameterizedTest
    @ValueSource(strings = {"sd1-tiny", "sd2-tiny"})
    void releasesEveryIntermediateAndUsesNoneAfterRelease(String name) {
        Path dir = model(name);
        try (Backend cpu = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"));
             WeightSource golden = SafetensorsFile.open(dir.resolve("golden.safetensors"))) {
            ReleaseCheckingBackend checked = new ReleaseCheckingBackend(cpu);
            UNet2DConditionModel plain = new UNet2DConditionModel(Params.root(weights, cpu), config(dir));
            UNet2DConditionModel unet = new UNet2DConditionModel(Params.root(weights, checked), config(dir));
            Tensor sample = Goldens.dense(golden, "unet.sample");
            Tensor context = Goldens.dense(golden, "unet.context");
            float[] timesteps = {981, 1};

            Tensor out = unet.forward(sample, timesteps, context);
            assertArrayEquals(plain.forward(sample, timesteps, context).toFloatArray(), out.toFloatArray());
            assertEquals(out.numel() * 4, checked.liveBytes(), "only the output is live after the call");
            assertTrue(checked.peakBytes() * 4 < checked.madeBytes(),
                    "peak of live results " + checked.peakBytes() + " bytes, made " + checked.madeBytes());
        }
    }

    @Test
    void missingTensorFailsNamingTheKey() {
        Path dir = model("sd1-tiny");
        String key = "up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_k.weight";
        try (Backend backend = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            var e = assertThrows(WeightException.class,
                    () -> new UNet2DConditionModel(Params.root(Goldens.without(weights, key), backend), config(dir)));
            assertTrue(e.getMessage().contains("missing tensor '" + key + "'"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line");
        }
    }

    @Test
    void misShapedTensorFailsNamingTheKeyAndShapes() {
        Path dir = model("sd1-tiny");
        String key = "down_blocks.0.resnets.1.conv1.weight";
        try (Backend backend = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            var e = assertThrows(WeightException.class, () -> new UNet2DConditionModel(
                    Params.root(Goldens.reshaped(weights, key, 32, 32, 1, 1), backend), config(dir)));
            assertTrue(e.getMessage().contains("'" + key + "' has shape [32, 32, 1, 1], expected [32, 32, 3, 3]"), e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line");
        }
    }

    @Test
    void unusedTensorsAreReported() {
        Path dir = model("sd1-tiny");
        try (Backend backend = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            Params p = Params.root(Goldens.withExtra(weights, "down_blocks.0.resnets.9.conv1.weight",
                    "down_blocks.0.resnets.1.conv1.weight"), backend);
            new UNet2DConditionModel(p, config(dir));
            assertEquals(Set.of("down_blocks.0.resnets.9.conv1.weight"), p.unused());
        }
    }

    @Test
    void rejectsASampleWithAnEmptySideOrTheWrongChannels() {
        Path dir = model("sd1-tiny");
        try (Backend backend = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            UNet2DConditionModel unet = new UNet2DConditionModel(Params.root(weights, backend), config(dir));
            var e = assertThrows(IllegalArgumentException.class,
                    () -> unet.forward(Tensor.zeros(1, 4, 0, 16), new float[] {1}, Tensor.zeros(1, 77, 32)));
            assertTrue(e.getMessage().contains("positive") && e.getMessage().contains("[1, 4, 0, 16]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> unet.forward(Tensor.zeros(1, 3, 9, 13), new float[] {1}, Tensor.zeros(1, 77, 32)));
            assertTrue(e.getMessage().contains("[1, 3, 9, 13]"), e.getMessage());
        }
    }
}
