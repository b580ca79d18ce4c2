// AutoencoderTiny (TAESD) against diffusers: the width-16 taesd-tiny folder of the conformance fixtures, fp32 on
// the CPU backend. encode(taesd.image) -> taesd.latents and decode(taesd.z) -> taesd.decoded, both on a
// non-square 64x96 image; the reference is float64, so the tolerance is tighter than a model call's 1e-4.
// Loading through VaeFolder: the class found from config.json, a decoder-only folder, and refusals that name
// the key, file or value.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.diffusion.Goldens;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class AutoencoderTinyTest {
    private static final double TOLERANCE = 1e-5;

    private static Path taesd() {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        return SharedFixtures.conformance().resolve("taesd-tiny");
    }

    private static AutoencoderTinyConfig config(Path dir) {
        return AutoencoderTinyConfig.fromJson(Json.parseObject(dir.resolve("config.json")));
    }

    @Test
    void matchesDiffusersOnGoldenInputs() {
        Path dir = taesd();
        try (Backend backend = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("diffusion_pytorch_model.safetensors"));
             WeightSource golden = SafetensorsFile.open(dir.resolve("golden.safetensors"))) {
            Params p = Params.root(weights, backend);
            AutoencoderTiny vae = new AutoencoderTiny(p, config(dir));
            assertEquals(Set.of(), p.unused(), "every tensor of the checkpoint is used");
            assertTrue(vae.hasEncoder());
            assertEquals(8, vae.downFactor());
            assertEquals(1.0, vae.scalingFactor());

            Tensor latents = vae.encode(backend.toDevice(Goldens.dense(golden, "taesd.image")));
            assertArrayEquals(new int[] {1, 4, 8, 12}, latents.shape());
            double errLatents = Goldens.relativeError(backend, latents, Goldens.dense(golden, "taesd.latents"));
            assertTrue(errLatents <= TOLERANCE, "taesd.latents relative error " + errLatents);

            Tensor decoded = vae.decode(backend.toDevice(Goldens.dense(golden, "taesd.z")));
            assertArrayEquals(new int[] {1, 3, 64, 96}, decoded.shape());
            double errDecoded = Goldens.relativeError(backend, decoded, Goldens.dense(golden, "taesd.decoded"));
            assertTrue(errDecoded <= TOLERANCE, "taesd.decoded relative error " + errDecoded);
            System.out.printf("taesd-tiny: encode relative error %.2e, decode %.2e%n", errLatents, errDecoded);
        }
    }

    @Test
    void decoderOnlyWeightsDecodeTheSameAndRefuseToEncode() {
        Path dir = taesd();
        try (Backend backend = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("diffusion_pytorch_model.safetensors"));
             WeightSource golden = SafetensorsFile.open(dir.resolve("golden.safetensors"))) {
            WeightSource decoderOnly = withoutPrefix(weights, "encoder.");
            Params p = Params.root(decoderOnly, backend);
            AutoencoderTiny vae = new AutoencoderTiny(p, config(dir));
            assertEquals(Set.of(), p.unused());
            assertFalse(vae.hasEncoder());
            AutoencoderTiny full = new AutoencoderTiny(Params.root(weights, backend), config(dir));
            Tensor z = Goldens.dense(golden, "taesd.z");
            assertArrayEquals(full.decode(z).toFloatArray(), vae.decode(z).toFloatArray());
            var e = assertThrows(IllegalStateException.class, () -> vae.encode(Goldens.dense(golden, "taesd.image")));
            assertTrue(e.getMessage().contains("no encoder"), e.getMessage());
        }
    }

    @Test
    void missingOrMisshapedTensorFailsNamingTheKey() {
        Path dir = taesd();
        try (Backend backend = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("diffusion_pytorch_model.safetensors"))) {
            String key = "decoder.layers.6.conv.2.bias";
            var missing = assertThrows(WeightException.class,
                    () -> new AutoencoderTiny(Params.root(Goldens.without(weights, key), backend), config(dir)));
            assertTrue(missing.getMessage().contains("missing tensor '" + key + "'"), missing.getMessage());
            String conv = "encoder.layers.2.weight";
            var shaped = assertThrows(WeightException.class,
                    () -> new AutoencoderTiny(Params.root(Goldens.reshaped(weights, conv, 16, 16, 1, 1), backend), config(dir)));
            assertTrue(shaped.getMessage().contains("'" + conv + "' has shape [16, 16, 1, 1], expected [16, 16, 3, 3]"), shaped.getMessage());
        }
    }

    @Test
    void configRefusesWhatTheArchitectureCannotBe() {
        var act = assertThrows(WeightException.class, () -> AutoencoderTinyConfig.fromJson(Map.of("act_fn", "silu")));
        assertTrue(act.getMessage().contains("act_fn = silu"), act.getMessage());
        var widths = assertThrows(WeightException.class, () -> AutoencoderTinyConfig.fromJson(
                Map.of("encoder_block_out_channels", java.util.List.of(32L, 64L, 64L, 64L))));
        assertTrue(widths.getMessage().contains("encoder_block_out_channels must be one positive width repeated"), widths.getMessage());
        var shift = assertThrows(WeightException.class, () -> AutoencoderTinyConfig.fromJson(Map.of("shift_factor", 0.1159)));
        assertTrue(shift.getMessage().contains("shift_factor"), shift.getMessage());
        assertEquals(AutoencoderTinyConfig.taesd(), AutoencoderTinyConfig.fromJson(Map.of()));
    }

    @Test
    void folderIsFoundByItsClassNameDirectlyOrAsVaeSubfolder(@TempDir Path tmp) throws IOException {
        Path dir = taesd();
        try (Backend backend = Backends.create("cpu")) {
            try (VaeFolder f = VaeFolder.open(dir, backend)) {
                assertInstanceOf(AutoencoderTiny.class, f.autoencoder());
                assertEquals(dir, f.path());
            }
            Path sd1 = SharedFixtures.conformance().resolve("sd1-tiny");
            try (VaeFolder f = VaeFolder.open(sd1, backend)) {
                assertInstanceOf(AutoencoderKL.class, f.autoencoder());
                assertEquals(sd1.resolve("vae"), f.path());
            }
        }
        Path unet = SharedFixtures.conformance().resolve("sd1-tiny/unet");
        var notVae = assertThrows(WeightException.class, () -> VaeFolder.find(unet));
        assertTrue(notVae.getMessage().contains("_class_name 'UNet2DConditionModel'"), notVae.getMessage());
        var empty = assertThrows(WeightException.class, () -> VaeFolder.find(tmp));
        assertTrue(empty.getMessage().contains("has no config.json nor vae/config.json"), empty.getMessage());
        Files.writeString(tmp.resolve("config.json"), "{\"_class_name\": \"AutoencoderTiny\"}");
        var noWeights = assertThrows(WeightException.class, () -> VaeFolder.find(tmp));
        assertTrue(noWeights.getMessage().contains("no diffusion_pytorch_model.safetensors"), noWeights.getMessage());
    }

    /** The source without every tensor whose name starts with prefix. */
    private static WeightSource withoutPrefix(WeightSource base, String prefix) {
        return new WeightSource() {
            @Override
            public Set<String> names() {
                Set<String> s = new LinkedHashSet<>(base.names());
                s.removeIf(n -> n.startsWith(prefix));
                return s;
            }

            @Override
            public TensorInfo info(String name) {
                return name.startsWith(prefix) ? null : base.info(name);
            }

            @Override
            public Tensor tensor(String name) {
                if (name.startsWith(prefix)) {
                    throw new WeightException("no tensor '" + name + "'");
                }
                return base.tensor(name);
            }

            @Override
            public String origin() {
                return base.origin() + " without " + prefix + "*";
            }
        };
    }
}
