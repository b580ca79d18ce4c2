// The U-Net at a latent size that is not a multiple of 2^(blocks-1): unet.sample_odd [1,4,9,13] (72x104
// pixels), timestep 700, unet.context_odd -> unet.out_odd from train_golden.safetensors, where the down path
// makes 5x7, 3x4, 2x2 and each upsampler resizes to the skip it meets (diffusers' upsample_size). Tiny SD 1.x
// and SD 2.x, each from its diffusers folder and from its single-file checkpoint (with the folder as config),
// fp32 on the CPU backend. Tolerance: relative error 1e-4, as the conformance README suggests for one call.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.diffusion.Goldens;
import dev.ldm4j.diffusion.model.ModelDiscovery;
import dev.ldm4j.diffusion.model.StableDiffusionModel;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.ReleaseCheckingBackend;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.WeightSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class UNetOddSizeConformanceTest {
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

    private static Path model(String name) {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        return SharedFixtures.conformance().resolve(name);
    }

    private static Tensor call(UNet2DConditionModel unet, WeightSource golden) {
        return unet.forward(cpu.toDevice(Goldens.dense(golden, "unet.sample_odd")), new float[] {700},
                cpu.toDevice(Goldens.dense(golden, "unet.context_odd")));
    }

    @ParameterizedTest(name = "{0}, single file: {1}")
    @CsvSource({"sd1-tiny, false", "sd1-tiny, true", "sd2-tiny, false", "sd2-tiny, true"})
    void oddLatentSizeMatchesDiffusers(String name, boolean singleFile) {
        Path dir = model(name);
        try (WeightSource golden = SafetensorsFile.open(dir.resolve("train_golden.safetensors"))) {
            Tensor out;
            if (singleFile) {
                try (StableDiffusionModel loaded = StableDiffusionModel.load(
                        ModelDiscovery.discover(dir.resolveSibling(name + ".safetensors"), dir, null), cpu)) {
                    out = cpu.toHost(call(loaded.unet(), golden));
                }
            } else {
                try (WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"))) {
                    UNetConfig config = UNetConfig.fromJson(Json.parseObject(dir.resolve("unet/config.json")));
                    out = cpu.toHost(call(new UNet2DConditionModel(Params.root(weights, cpu), config), golden));
                }
            }
            assertArrayEquals(new int[] {1, 4, 9, 13}, out.shape());
            double err = Goldens.relativeError(cpu, out, Goldens.dense(golden, "unet.out_odd"));
            System.out.printf("%s (%s) unet.out_odd relative error %.2e%n", name, singleFile ? "single file" : "folder", err);
            assertTrue(err <= TOLERANCE, name + " unet.out_odd relative error " + err);
        }
    }

    /** The odd path keeps the release discipline: only the output live after the call, nothing read after release. */
    @Test
    void oddLatentSizeReleasesEveryIntermediate() {
        Path dir = model("sd1-tiny");
        try (WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"));
             WeightSource golden = SafetensorsFile.open(dir.resolve("train_golden.safetensors"))) {
            UNetConfig config = UNetConfig.fromJson(Json.parseObject(dir.resolve("unet/config.json")));
            ReleaseCheckingBackend checked = new ReleaseCheckingBackend(cpu);
            UNet2DConditionModel plain = new UNet2DConditionModel(Params.root(weights, cpu), config);
            UNet2DConditionModel unet = new UNet2DConditionModel(Params.root(weights, checked), config);
            Tensor sample = Goldens.dense(golden, "unet.sample_odd");
            Tensor context = Goldens.dense(golden, "unet.context_odd");
            Tensor out = unet.forward(sample, new float[] {700}, context);
            assertArrayEquals(plain.forward(sample, new float[] {700}, context).toFloatArray(), out.toFloatArray());
            assertEquals(out.numel() * 4, checked.liveBytes(), "only the output is live after the call");
        }
    }
}
