// The guidance-embedding U-Net (time_cond_proj_dim, as LCM-distilled models have) against diffusers:
// lcm-tiny/golden.safetensors holds a U-Net call on unet.sample [2,4,16,16] at timesteps (999, 499) with
// unet.context and timestep_cond = unet.w_embedding, the LCM pipeline's get_guidance_scale_embedding of
// guidance scales (8.5, 3.0) minus 1 at width 32. Tolerances: the embedding within 1e-6 (absolute, its
// values are sines and cosines), the call within relative error 1e-4 as every fp32 U-Net call. A U-Net
// without time_cond_proj_dim has no cond_proj and takes no condition.
package dev.ldm4j.diffusion.unet;

import dev.ldm4j.diffusion.Goldens;
import dev.ldm4j.diffusion.pipeline.GuidanceScaleEmbedding;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.WeightSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class LcmConformanceTest {
    private static final double EMBEDDING_TOLERANCE = 1e-6;
    private static final double UNET_TOLERANCE = 1e-4;
    private static Backend cpu;

    @BeforeAll
    static void backend() {
        cpu = Backends.create("cpu");
    }

    @AfterAll
    static void close() {
        cpu.close();
    }

    private static Path lcmTiny() {
        assumeTrue(SharedFixtures.available() && SharedFixtures.conformance().resolve("lcm-tiny").toFile().isDirectory(),
                "shared conformance fixtures (lcm-tiny) absent");
        return SharedFixtures.conformance().resolve("lcm-tiny");
    }

    private static UNetConfig config(Path model) {
        return UNetConfig.fromJson(Json.parseObject(model.resolve("unet/config.json")));
    }

    private static double[] guidanceMinusOne(WeightSource golden) {
        float[] g = golden.tensor("unet.guidance_scale").toFloatArray();
        assertArrayEquals(new float[] {8.5f, 3.0f}, g);
        return new double[] {g[0] - 1.0, g[1] - 1.0};
    }

    @Test
    void configReadsTimeCondProjDim() {
        UNetConfig c = config(lcmTiny());
        assertEquals(32, c.timeCondProjDim());
        assertTrue(c.hasGuidanceEmbedding());
        assertNull(UNetConfig.sd15().timeCondProjDim());
        assertNull(c.withTimeCondProjDim(null).timeCondProjDim());
        assertEquals(c, c.withTimeCondProjDim(null).withTimeCondProjDim(32));
    }

    @Test
    void guidanceEmbeddingIsDiffusersGetGuidanceScaleEmbedding() {
        try (WeightSource golden = SafetensorsFile.open(lcmTiny().resolve("golden.safetensors"))) {
            Tensor ours = GuidanceScaleEmbedding.of(guidanceMinusOne(golden), 32);
            float[] want = golden.tensor("unet.w_embedding").toFloatArray();
            assertArrayEquals(new int[] {2, 32}, ours.shape());
            double worst = 0;
            for (int i = 0; i < want.length; i++) {
                worst = Math.max(worst, Math.abs((double) ours.toFloatArray()[i] - want[i]));
            }
            System.out.printf("lcm-tiny unet.w_embedding max abs error %.2e%n", worst);
            assertTrue(worst <= EMBEDDING_TOLERANCE, "w_embedding max abs error " + worst);
        }
    }

    @Test
    void guidanceEmbeddingByTheFormula() {
        // w = 0: sines 0, cosines 1. Odd width: one zero column at the end. Rows are independent.
        Tensor e = GuidanceScaleEmbedding.of(new double[] {0, 0.25}, 9);
        float[] v = e.toFloatArray();
        assertArrayEquals(new int[] {2, 9}, e.shape());
        for (int k = 0; k < 4; k++) {
            assertEquals(0f, v[k]);
            assertEquals(1f, v[4 + k]);
            double f = Math.exp(-k * (double) ((float) Math.log(10000.0) / 3f));
            assertEquals(Math.sin(250 * f), v[9 + k], 1e-7);
            assertEquals(Math.cos(250 * f), v[9 + 4 + k], 1e-7);
        }
        assertEquals(0f, v[8]);
        assertEquals(0f, v[17]);
        assertArrayEquals(GuidanceScaleEmbedding.of(new double[] {7.5, 7.5}, 32).toFloatArray(),
                GuidanceScaleEmbedding.forGuidanceScale(8.5, 2, 32).toFloatArray());
    }

    @Test
    void unetWithGuidanceEmbeddingMatchesDiffusers() {
        Path dir = lcmTiny();
        try (WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"));
             WeightSource golden = SafetensorsFile.open(dir.resolve("golden.safetensors"))) {
            Params p = Params.root(weights, cpu);
            UNet2DConditionModel unet = new UNet2DConditionModel(p, config(dir));
            assertEquals(Set.of(), p.unused(), "every tensor of the checkpoint is used, time_embedding.cond_proj.weight included");

            float[] timesteps = golden.tensor("unet.timesteps").toFloatArray();
            assertArrayEquals(new float[] {999, 499}, timesteps);
            Tensor sample = cpu.toDevice(Goldens.dense(golden, "unet.sample"));
            Tensor context = cpu.toDevice(Goldens.dense(golden, "unet.context"));
            Tensor want = Goldens.dense(golden, "unet.out");

            Tensor withGolden = unet.forward(sample, timesteps, context, cpu.toDevice(Goldens.dense(golden, "unet.w_embedding")));
            Tensor withOurs = unet.forward(sample, timesteps, context,
                    cpu.toDevice(GuidanceScaleEmbedding.of(guidanceMinusOne(golden), 32)));
            double errGolden = Goldens.relativeError(cpu, withGolden, want);
            double errOurs = Goldens.relativeError(cpu, withOurs, want);
            System.out.printf("lcm-tiny unet.out relative error %.2e (golden w_embedding), %.2e (ours)%n", errGolden, errOurs);
            assertTrue(errGolden <= UNET_TOLERANCE, "unet.out relative error " + errGolden);
            assertTrue(errOurs <= UNET_TOLERANCE, "unet.out relative error with our embedding " + errOurs);

            // The forwardProjected path the pipeline (and a step recording) takes gives the same numbers.
            Tensor projected = unet.forwardProjected(sample, unet.timeProjection(timesteps, 2), context,
                    cpu.toDevice(Goldens.dense(golden, "unet.w_embedding")));
            assertArrayEquals(cpu.toHost(withGolden).toFloatArray(), cpu.toHost(projected).toFloatArray());

            // Without the condition the output is another one (diffusers skips cond_proj then).
            double without = Goldens.relativeError(cpu, unet.forward(sample, timesteps, context), want);
            assertTrue(without > 100 * UNET_TOLERANCE, "the condition changes the output (relative difference " + without + ")");
        }
    }

    @Test
    void theConditionMustMatchTimeCondProjDim() {
        Path dir = lcmTiny();
        try (WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            UNet2DConditionModel unet = new UNet2DConditionModel(Params.root(weights, cpu), config(dir));
            Tensor sample = Tensor.of(new float[2 * 4 * 8 * 8], 2, 4, 8, 8);
            Tensor context = Tensor.of(new float[2 * 77 * 32], 2, 77, 32);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> unet.forward(sample, new float[] {999}, context, GuidanceScaleEmbedding.of(new double[] {7.5, 7.5}, 16)));
            assertTrue(e.getMessage().contains("[2, 32]"), e.getMessage());
        }
    }

    @Test
    void aUNetWithoutTimeCondProjDimHasNoCondProjAndTakesNoCondition() {
        Path dir = lcmTiny();
        try (WeightSource weights = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"))) {
            // The same weights read as a plain SD U-Net: cond_proj is left unused (a strict load refuses the file).
            Params p = Params.root(weights, cpu);
            UNet2DConditionModel plain = new UNet2DConditionModel(p, config(dir).withTimeCondProjDim(null));
            assertEquals(Set.of("time_embedding.cond_proj.weight"), p.unused());
            Tensor sample = Tensor.of(new float[4 * 8 * 8], 1, 4, 8, 8);
            Tensor context = Tensor.of(new float[77 * 32], 1, 77, 32);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> plain.forward(sample, new float[] {999}, context, GuidanceScaleEmbedding.of(new double[] {7.5}, 32)));
            assertTrue(e.getMessage().contains("time_cond_proj_dim"), e.getMessage());
            // ... and computes what the guidance-embedding U-Net computes when given no condition.
            UNet2DConditionModel lcm = new UNet2DConditionModel(Params.root(weights, cpu), config(dir));
            assertArrayEquals(cpu.toHost(lcm.forward(sample, new float[] {999}, context)).toFloatArray(),
                    cpu.toHost(plain.forward(sample, new float[] {999}, context)).toFloatArray());
        }
    }
}
