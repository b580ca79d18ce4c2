// Loading whole models: the tiny single files (original layout, --config) give the same U-Net and VAE
// outputs as the diffusers goldens (relative error <= 1e-4), and the full-size SD 1.5/2.1 original
// headers, mapped to diffusers names, are consumed exactly by the model classes built from the
// inferred standard configs (no tensor missing, mis-shaped or left over).
package dev.ldm4j.diffusion.model;

import dev.ldm4j.diffusion.Goldens;
import dev.ldm4j.diffusion.clip.ClipTextTransformer;
import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.diffusion.vae.DiagonalGaussianDistribution;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.HeaderSource;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.WeightSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StableDiffusionModelTest {
    private static final double TOLERANCE = 1e-4;
    private static Backend cpu;

    @BeforeAll
    static void backend() {
        cpu = Backends.create("cpu");
    }

    @AfterAll
    static void close() {
        cpu.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"sd1-tiny", "sd2-tiny"})
    void singleFileWithConfigReproducesTheUNetAndVaeGoldens(String model) {
        Assumptions.assumeTrue(SharedFixtures.available(), "shared conformance fixtures not found");
        Path conf = SharedFixtures.conformance();
        try (var loaded = StableDiffusionModel.load(ModelDiscovery.discover(conf.resolve(model + ".safetensors"), conf.resolve(model), null), cpu);
             WeightSource golden = SafetensorsFile.open(conf.resolve(model).resolve("golden.safetensors"))) {
            assertNotNull(loaded.tokenizer(), "tokenizer from the --config folder");
            UNet2DConditionModel unet = loaded.unet();
            Tensor out = unet.forward(cpu.toDevice(Goldens.dense(golden, "unet.sample")), golden.tensor("unet.timesteps").toFloatArray(),
                    cpu.toDevice(Goldens.dense(golden, "unet.context")));
            check(Goldens.relativeError(cpu, out, Goldens.dense(golden, "unet.out")), model + " unet.out");
            Tensor wide = unet.forward(cpu.toDevice(Goldens.dense(golden, "unet.sample_wide")), new float[] {500},
                    cpu.toDevice(Goldens.dense(golden, "unet.context_wide")));
            check(Goldens.relativeError(cpu, wide, Goldens.dense(golden, "unet.out_wide")), model + " unet.out_wide");

            AutoencoderKL vae = loaded.vae();
            DiagonalGaussianDistribution posterior = vae.encode(cpu.toDevice(Goldens.dense(golden, "vae.image")));
            check(Goldens.relativeError(cpu, posterior.mean(), Goldens.dense(golden, "vae.mean")), model + " vae.mean");
            check(Goldens.relativeError(cpu, posterior.logvar(), Goldens.dense(golden, "vae.logvar")), model + " vae.logvar");
            check(Goldens.relativeError(cpu, vae.decode(cpu.toDevice(Goldens.dense(golden, "vae.z"))),
                    Goldens.dense(golden, "vae.decoded")), model + " vae.decoded");
            check(Goldens.relativeError(cpu, vae.decode(cpu.toDevice(Goldens.dense(golden, "vae.z_wide"))),
                    Goldens.dense(golden, "vae.decoded_wide")), model + " vae.decoded_wide");
        }
    }

    private static void check(double err, String what) {
        assertTrue(err <= TOLERANCE, what + ": relative error " + err + " > " + TOLERANCE);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sd15", "sd21"})
    void fullSizeOriginalHeaderIsConsumedExactlyByTheModels(String model) {
        Assumptions.assumeTrue(SharedFixtures.available(), "shared conformance fixtures not found");
        HeaderSource original = HeaderSource.withZeroStandIns(model, Json.parseObject(SharedFixtures.conformance().resolve(model + "-original-fp16.header.json")));
        StableDiffusionModelSpec spec = ModelDiscovery.fromOriginal(Path.of(model + ".safetensors"), original, null, null);
        Params text = Params.root(spec.textEncoderWeights(), cpu);
        new ClipTextTransformer(text, spec.textEncoder());
        Params unet = Params.root(spec.unetWeights(), cpu);
        new UNet2DConditionModel(unet, spec.unet());
        Params vae = Params.root(spec.vaeWeights(), cpu);
        new AutoencoderKL(vae, spec.vae());
        assertEquals(Set.of(), text.unused(), "text encoder tensors no model used");
        assertEquals(Set.of(), unet.unused(), "U-Net tensors no model used");
        assertEquals(Set.of(), vae.unused(), "VAE tensors no model used");
        assertEquals(List.of(), spec.unrecognized());
        int mapped = spec.textEncoderWeights().names().size() + spec.unetWeights().names().size() + spec.vaeWeights().names().size();
        assertTrue(mapped > 1000, "mapped " + mapped);
    }
}
