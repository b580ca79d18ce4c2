// Opt-in (-Dldm4j.heavy=true) full-size measurement of VaeTiling: the SD 1.5 VAE over seeded random F16
// weights with the published shapes (sd15-diffusers.header.json) decodes a 96x96 latent (768x768 pixels,
// 2x2 tiles of 512 pixels) whole and tiled. Prints how far the tiled image is from the whole one (near the
// seams and away from them) and the most bytes of op results live at once for each (ReleaseCheckingBackend):
// the tiled decode holds one tile's activations plus the image, whatever the size. Random weights: only
// shapes, finiteness and that tiling lowers the peak are asserted.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.diffusion.RandomF16Weights;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.ReleaseCheckingBackend;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;
import dev.ldm4j.weights.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.lang.foreign.Arena;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@EnabledIfSystemProperty(named = "ldm4j.heavy", matches = "true")
class VaeTilingFullSizeTest {
    @Test
    @SuppressWarnings("unchecked")
    void sd15DecodeAt768TiledAndWhole() {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        Map<String, Object> header = Json.parseObject(SharedFixtures.conformance().resolve("sd15-diffusers.header.json"));
        try (Arena arena = Arena.ofShared(); var cpu = Backends.create("cpu")) {
            ReleaseCheckingBackend backend = new ReleaseCheckingBackend(cpu);
            AutoencoderKL vae = new AutoencoderKL(Params.root(new RandomF16Weights((Map<String, Object>) header.get("vae"), arena, "random SD 1.5 VAE"), backend),
                    VaeConfig.fromJson((Map<String, Object>) header.get("vae_config")));
            Random r = new Random(11);
            float[] z = new float[4 * 96 * 96];
            for (int i = 0; i < z.length; i++) {
                z[i] = (float) (r.nextGaussian() / VaeConfig.SD_SCALING_FACTOR);
            }
            Tensor latent = Tensor.of(z, 1, 4, 96, 96);

            long t0 = System.nanoTime();
            backend.resetPeak();
            long live = backend.liveBytes();
            float[] tiled;
            try (TensorScope scope = TensorScope.open()) {
                tiled = backend.toHost(VaeTiling.decode(vae, latent)).toFloatArray();
            }
            long tiledPeak = backend.peakBytes() - live;
            long t1 = System.nanoTime();
            backend.resetPeak();
            live = backend.liveBytes();
            float[] whole;
            Tensor decoded;
            try (TensorScope scope = TensorScope.open()) {
                decoded = vae.decode(latent);
                whole = backend.toHost(decoded).toFloatArray();
            }
            long wholePeak = backend.peakBytes() - live;
            long t2 = System.nanoTime();
            assertArrayEquals(new int[] {1, 3, 768, 768}, decoded.shape());
            for (float v : tiled) {
                assertTrue(Float.isFinite(v), "non-finite tiled output");
            }
            System.out.printf("SD 1.5 VAE (random weights) at 768x768: tiled (2x2 tiles of 512) %.0f s, op results live at most %.0f MB;"
                    + " whole %.0f s, %.0f MB%n", (t1 - t0) / 1e9, tiledPeak / 1e6, (t2 - t1) / 1e9, wholePeak / 1e6);
            VaeTilingTest.report("SD 1.5 VAE (random weights), 768x768, 2x2 tiles of 512", whole, tiled, 3, 768, 768, 384, 128);
            assertTrue(tiledPeak < wholePeak, "tiling lowers the peak: " + tiledPeak + " vs " + wholePeak);
        }
    }
}
