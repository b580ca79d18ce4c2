// Opt-in (-Dldm4j.heavy=true) full-size check: a Stable Diffusion 1.5 U-Net built from UNetConfig.sd15()
// over random F16 weights with the shapes of the published checkpoint (sd15-diffusers.header.json),
// held off-heap like a memory-mapped file, runs one classifier-free-guided step at 512x512 (a batch of
// two 64x64 latents) within the test JVM's heap (-Xmx4g from the parent pom), and prints the time, the
// peak heap and the activation working set: through ReleaseCheckingBackend, the most bytes of op results
// live at once (what a GPU must hold besides the weights, in fp32) against all the step makes. The
// weights are random, so only shape, finiteness and that only the output stays live are asserted; the
// numbers are checked on the tiny models in UNet2DConditionModelTest.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.diffusion.RandomF16Weights;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.ReleaseCheckingBackend;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@EnabledIfSystemProperty(named = "ldm4j.heavy", matches = "true")
class UNetFullSizeSmokeTest {
    @Test
    @SuppressWarnings("unchecked")
    void sd15GuidedStepAt512RunsWithinTheTestHeap() {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        Map<String, Object> header = Json.parseObject(SharedFixtures.conformance().resolve("sd15-diffusers.header.json"));
        Map<String, Object> unetHeader = (Map<String, Object>) header.get("unet");
        try (Arena arena = Arena.ofShared();
             Backend cpu = Backends.create("cpu")) {
            ReleaseCheckingBackend backend = new ReleaseCheckingBackend(cpu);
            RandomF16Weights weights = new RandomF16Weights(unetHeader, arena, "random SD 1.5 U-Net");
            long t0 = System.nanoTime();
            Params p = Params.root(weights, backend);
            UNet2DConditionModel unet = new UNet2DConditionModel(p, UNetConfig.sd15());
            long t1 = System.nanoTime();
            assertEquals(Set.of(), p.unused(), "the SD 1.5 layout has no tensor the model leaves unused");

            Tensor latents = backend.toDevice(randomF32(1, 2, 4, 64, 64));
            Tensor context = backend.toDevice(randomF32(2, 2, 77, 768));
            resetPeaks();
            backend.resetPeak();
            long live = backend.liveBytes();
            long t2 = System.nanoTime();
            Tensor out = unet.forward(latents, new float[] {999, 999}, context);
            long t3 = System.nanoTime();
            assertArrayEquals(new int[] {2, 4, 64, 64}, out.shape());
            for (float v : backend.toHost(out).toFloatArray()) {
                assertTrue(Float.isFinite(v), "non-finite output");
            }
            assertEquals(live + out.numel() * 4, backend.liveBytes(), "only the output stays live");
            System.out.printf("SD 1.5 U-Net, random F16 weights (%.2f GB off-heap): build %.1f s, one guided 512x512 step "
                            + "(batch 2, 64x64 latents) %.1f s on %s, peak heap during the step %.0f MB of %d MB max; "
                            + "op results live at once at most %.0f MB of %.0f MB made%n",
                    weights.bytes() / 1e9, (t1 - t0) / 1e9, (t3 - t2) / 1e9, backend.name(), peakHeap() / 1e6,
                    Runtime.getRuntime().maxMemory() >> 20, (backend.peakBytes() - live) / 1e6, backend.madeBytes() / 1e6);
        }
    }

    private static Tensor randomF32(long seed, int... shape) {
        float[] d = new float[Math.toIntExact(Tensor.numel(shape))];
        long s = seed * 0x9E3779B97F4A7C15L + 1;
        for (int i = 0; i < d.length; i++) {
            s ^= s << 13;
            s ^= s >>> 7;
            s ^= s << 17;
            d[i] = ((s >>> 40) / (float) (1 << 24)) * 2 - 1;
        }
        return Tensor.of(d, shape);
    }

    private static void resetPeaks() {
        System.gc();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
    }

    private static long peakHeap() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }
}
