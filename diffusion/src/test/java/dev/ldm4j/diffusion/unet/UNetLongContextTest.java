// The U-Net's cross attention takes a text context of any length, as A1111-style long prompts need
// ([B, 77 k, D]): attention over the context repeated k times is attention over the context itself
// (each key's softmax weight is divided by k and its value counted k times), so the output must not
// change. k = 2 and 3 (231 keys, not a multiple of the CPU kernel's key block). Tolerance: relative 1e-5.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.diffusion.Goldens;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.WeightSource;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class UNetLongContextTest {
    @ParameterizedTest(name = "context repeated {0} times")
    @ValueSource(ints = {2, 3})
    void aRepeatedContextGivesTheSameOutput(int k) {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        Path dir = SharedFixtures.conformance().resolve("sd1-tiny");
        try (Backend backend = Backends.create("cpu");
             WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"));
             WeightSource golden = SafetensorsFile.open(dir.resolve("golden.safetensors"))) {
            UNet2DConditionModel unet = new UNet2DConditionModel(Params.root(weights, backend),
                    UNetConfig.fromJson(Json.parseObject(dir.resolve("unet/config.json"))));
            Tensor sample = backend.toDevice(Goldens.dense(golden, "unet.sample"));                 // [2, 4, 16, 16]
            Tensor context = backend.toDevice(Goldens.dense(golden, "unet.context"));               // [2, 77, D]
            Tensor[] copies = new Tensor[k];
            java.util.Arrays.fill(copies, context);
            Tensor longer = backend.concat(1, copies);                                              // [2, 77 k, D]
            assertArrayEquals(new int[] {2, 77 * k, context.dim(2)}, longer.shape());
            float[] timesteps = {981, 1};
            Tensor want = unet.forward(sample, timesteps, context);
            Tensor got = unet.forward(sample, timesteps, longer);
            double err = Goldens.relativeError(backend, got, backend.toHost(want));
            assertTrue(err <= 1e-5, "relative error " + err);
        }
    }
}
