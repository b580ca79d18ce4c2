// AutoencoderKL against diffusers: the tiny SD 1.x and SD 2.x VAEs from their diffusers folders, fp32 on
// the CPU backend. encode(vae.image) -> posterior mean and (clamped) logvar; decode(vae.z) and the
// non-square decode(vae.z_wide). Tolerance: relative error 1e-4 (conformance README, one model call).
package dev.ldm4j.diffusion.vae;

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
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class AutoencoderKLTest {
    private static final double TOLERANCE = 1e-4;

    private static Path model(String name) {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        return SharedFixtures.conformance().resolve(name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sd1-tiny", "sd2-tiny"})
    void matchesDiffusersOnGoldenInputs(String name) {
        Path dir = model(name);
        try (Backend backend = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("vae/diffusion_pytorch_model.safetensors"));
             WeightSource golden = SafetensorsFile.open(dir.resolve("golden.safetensors"))) {
            Params p = Params.root(weights, backend);
            AutoencoderKL vae = new AutoencoderKL(p, VaeConfig.fromJson(Json.parseObject(dir.resolve("vae/config.json"))));
            assertEquals(Set.of(), p.unused(), "every tensor of the checkpoint is used");

            DiagonalGaussianDistribution posterior = vae.encode(backend.toDevice(Goldens.dense(golden, "vae.image")));
            assertArrayEquals(new int[] {1, 4, 16, 16}, posterior.mean().shape());
            double errMean = Goldens.relativeError(backend, posterior.mean(), Goldens.dense(golden, "vae.mean"));
            double errLogvar = Goldens.relativeError(backend, posterior.logvar(), Goldens.dense(golden, "vae.logvar"));
            assertTrue(errMean <= TOLERANCE, name + " vae.mean relative error " + errMean);
            assertTrue(errLogvar <= TOLERANCE, name + " vae.logvar relative error " + errLogvar);

            Tensor decoded = vae.decode(backend.toDevice(Goldens.dense(golden, "vae.z")));
            assertArrayEquals(new int[] {1, 3, 128, 128}, decoded.shape());
            double errDecoded = Goldens.relativeError(backend, decoded, Goldens.dense(golden, "vae.decoded"));
            assertTrue(errDecoded <= TOLERANCE, name + " vae.decoded relative error " + errDecoded);

            Tensor wide = vae.decode(backend.toDevice(Goldens.dense(golden, "vae.z_wide")));
            assertArrayEquals(new int[] {1, 3, 96, 160}, wide.shape());
            double errWide = Goldens.relativeError(backend, wide, Goldens.dense(golden, "vae.decoded_wide"));
            assertTrue(errWide <= TOLERANCE, name + " vae.decoded_wide relative error " + errWide);
        }
    }
    /** As the U-Net's: through ReleaseCheckingBackend, decode and encode leave only their results live and read nothing released. */
    @ParameterizedTest
    @ValueSource(strings = {"sd1-tiny", "sd2-tiny"})
    void releasesEveryIntermediateAndUsesNoneAfterRelease(String name) {
        Path dir = model(name);
        try (Backend cpu = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("vae/diffusion_pytorch_model.safetensors"));
             WeightSource golden = SafetensorsFile.open(dir.resolve("golden.safetensors"))) {
            ReleaseCheckingBackend checked = new ReleaseCheckingBackend(cpu);
            VaeConfig config = VaeConfig.fromJson(Json.parseObject(dir.resolve("vae/config.json")));
            AutoencoderKL plain = new AutoencoderKL(Params.root(weights, cpu), config);
            AutoencoderKL vae = new AutoencoderKL(Params.root(weights, checked), config);

            Tensor z = Goldens.dense(golden, "vae.z");
            Tensor decoded = vae.decode(z);
            assertArrayEquals(plain.decode(z).toFloatArray(), decoded.toFloatArray());
            assertEquals(decoded.numel() * 4, checked.liveBytes(), "only the decoded image is live after decode");
            assertTrue(checked.peakBytes() * 4 < checked.madeBytes(),
                    "peak of live results " + checked.peakBytes() + " bytes, made " + checked.madeBytes());

            Tensor image = Goldens.dense(golden, "vae.image");
            long before = checked.liveBytes();
            DiagonalGaussianDistribution posterior = vae.encode(image);
            DiagonalGaussianDistribution reference = plain.encode(image);
            assertArrayEquals(reference.mean().toFloatArray(), posterior.mean().toFloatArray());
            assertArrayEquals(reference.logvar().toFloatArray(), posterior.logvar().toFloatArray());
            assertTrue(checked.liveBytes() - before <= 4L * (2 * posterior.mean().numel() + posterior.logvar().numel()),
                    "encode keeps only the moments, the mean and the log-variance: " + (checked.liveBytes() - before) + " bytes live");
        }
    }


    @Test
    void missingTensorFailsNamingTheKey() {
        Path dir = model("sd1-tiny");
        String key = "decoder.mid_block.attentions.0.group_norm.bias";
        try (Backend backend = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("vae/diffusion_pytorch_model.safetensors"))) {
            var e = assertThrows(WeightException.class,
                    () -> new AutoencoderKL(Params.root(Goldens.without(weights, key), backend), VaeConfig.fromJson(
                            Json.parseObject(dir.resolve("vae/config.json")))));
            assertTrue(e.getMessage().contains("missing tensor '" + key + "'"), e.getMessage());
        }
    }
}
