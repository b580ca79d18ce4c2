// LoRA files merged on load (ModelAddons, LoraMerge) on the tiny SD models: random LoRAs written in
// each layout (kohya / A1111, diffusers / PEFT, older diffusers) give merged weights equal to
// W + scale * (alpha / r) * up . down computed here in float64, for linear layers, 1x1 convs and LoCon
// 3x3 convs, in the U-Net and the text encoder, on the diffusers folder (F32: within float32 rounding)
// and the original-layout single files (F16: within one F16 step, where kohya's LDM names work too);
// only the touched tensors are replaced; scale 0 gives the base image bit for bit; the image equals
// the one from a checkpoint merged offline; bad files fail in one line naming file, key and shapes.
package dev.ldm4j.diffusion.model;

import dev.ldm4j.diffusion.pipeline.GenerationRequest;
import dev.ldm4j.diffusion.pipeline.GenerationResult;
import dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline;
import dev.ldm4j.diffusion.pipeline.StepListener;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.OverlayWeightSource;
import dev.ldm4j.weights.SafetensorsWriter;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;
import dev.ldm4j.weights.lora.LoraException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class LoraMergeTest {
    private static Backend cpu;
    private static Path conf;

    @BeforeAll
    static void setUp() {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures not found");
        cpu = Backends.create("cpu");
        conf = SharedFixtures.conformance();
    }

    @AfterAll
    static void tearDown() {
        if (cpu != null) {
            cpu.close();
        }
    }

    /**
     * One adapted layer of a test LoRA: the model weight it adapts, its key stem in the file, random
     * down and up of the given shapes, and alpha (NaN: none in the file, so alpha = rank).
     */
    record Layer(boolean unet, String target, String key, int[] downShape, int[] upShape, double alpha, float[] down, float[] up) {
        int rank() {
            return downShape[0];
        }
    }

    private static Layer layer(SplittableRandom r, boolean unet, String target, String key, int[] downShape, int[] upShape, double alpha) {
        return new Layer(unet, target, key, downShape, upShape, alpha, random(r, downShape), random(r, upShape));
    }

    private static float[] random(SplittableRandom r, int[] shape) {
        float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextDouble() - 0.5);
        }
        return v;
    }

    /** A linear layer, a wide linear without alpha, a 1x1 conv, a LoCon 3x3 conv (U-Net), and two text-encoder linears. */
    private static List<Layer> kohyaLayers(SplittableRandom r, String protoInName) {
        return List.of(
                layer(r, true, "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
                        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", new int[] {4, 32}, new int[] {32, 4}, 2),
                layer(r, true, "down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight",
                        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_ff_net_0_proj", new int[] {8, 32}, new int[] {256, 8}, Double.NaN),
                layer(r, true, "down_blocks.0.attentions.0.proj_in.weight", protoInName, new int[] {4, 32, 1, 1}, new int[] {32, 4, 1, 1}, 1),
                layer(r, true, "down_blocks.0.resnets.0.conv1.weight", "lora_unet_down_blocks_0_resnets_0_conv1",
                        new int[] {4, 32, 3, 3}, new int[] {32, 4, 1, 1}, 8),
                layer(r, false, "text_model.encoder.layers.0.self_attn.q_proj.weight", "lora_te_text_model_encoder_layers_0_self_attn_q_proj",
                        new int[] {4, 32}, new int[] {32, 4}, 4),
                layer(r, false, "text_model.encoder.layers.1.mlp.fc1.weight", "lora_te_text_model_encoder_layers_1_mlp_fc1",
                        new int[] {2, 32}, new int[] {64, 2}, 1));
    }

    private static void writeKohya(Path file, List<Layer> layers) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (Layer l : layers) {
            t.put(l.key() + ".lora_down.weight", Tensor.of(l.down(), l.downShape()));
            t.put(l.key() + ".lora_up.weight", Tensor.of(l.up(), l.upShape()));
            if (!Double.isNaN(l.alpha())) {
                t.put(l.key() + ".alpha", Tensor.of(new float[] {(float) l.alpha()}));
            }
        }
        SafetensorsWriter.write(file, t);
    }

    private static StableDiffusionModelSpec folder(String name) {
        return ModelDiscovery.discover(conf.resolve(name), null, null);
    }

    private static StableDiffusionModelSpec singleFile(String name) {
        return ModelDiscovery.discover(conf.resolve(name + ".safetensors"), conf.resolve(name), null);
    }

    /**
     * Checks the merged weight against W + factor * up . down in float64: within float32 rounding for an
     * F32 weight, within one step of F16 (the merged weight is stored as F16, like the weight it replaces).
     */
    private static void assertMerged(WeightSource base, WeightSource merged, Layer l, double scale) {
        float[] m = merged.tensor(l.target()).toFloatArray();
        boolean half = base.info(l.target()).dtype() == dev.ldm4j.tensor.DType.F16;
        assertEquals(base.info(l.target()).dtype(), merged.info(l.target()).dtype(), "the merged weight keeps its dtype");
        double[] expected = expectedInDouble(base, l, scale);
        float[] w = base.tensor(l.target()).toFloatArray();
        double maxDelta = 0;
        for (int i = 0; i < m.length; i++) {
            double e = expected[i];
            double step = half ? Math.max(Math.scalb(1.0, Math.getExponent(e) - 10), Math.scalb(1.0, -24)) : 4 * Math.ulp((float) e) + 1e-7;
            assertTrue(Math.abs(m[i] - e) <= step, l.target() + "[" + i + "]: merged " + m[i] + ", expected " + e + " (tolerance " + step + ")");
            maxDelta = Math.max(maxDelta, Math.abs(e - w[i]));
        }
        assertTrue(maxDelta > 1e-2, l.target() + ": the update is not negligible (" + maxDelta + "), so the check means something");
    }

    private static void assertAllMerged(StableDiffusionModelSpec base, StableDiffusionModelSpec merged, List<Layer> layers, double scale) {
        for (Layer l : layers) {
            assertMerged(l.unet() ? base.unetWeights() : base.textEncoderWeights(),
                    l.unet() ? merged.unetWeights() : merged.textEncoderWeights(), l, scale);
        }
    }

    /** W + scale * (alpha / r) * up . down in float64, W read from the base weights. */
    private static double[] expectedInDouble(WeightSource w, Layer l, double scale) {
        float[] base = w.tensor(l.target()).toFloatArray();
        int rank = l.rank();
        int out = l.upShape()[0];
        int cols = base.length / out;
        double factor = scale * (Double.isNaN(l.alpha()) ? 1.0 : l.alpha() / rank);
        double[] m = new double[base.length];
        for (int o = 0; o < out; o++) {
            for (int j = 0; j < cols; j++) {
                double d = 0;
                for (int k = 0; k < rank; k++) {
                    d += (double) l.up()[o * rank + k] * l.down()[k * cols + j];
                }
                m[o * cols + j] = base[o * cols + j] + factor * d;
            }
        }
        return m;
    }

    private static void assertOnlyTouched(WeightSource merged, List<Layer> layers, boolean unet) {
        Set<String> expected = new java.util.HashSet<>();
        layers.stream().filter(l -> l.unet() == unet).forEach(l -> expected.add(l.target()));
        assertEquals(expected, Set.copyOf(((OverlayWeightSource) merged).replacedNames()), "exactly the adapted weights are copies");
    }

    @Test
    void kohyaLoraOnTheFolderMergesLinearConv1x1AndLoConConv3x3IntoUNetAndTextEncoder(@TempDir Path dir) {
        List<Layer> layers = kohyaLayers(new SplittableRandom(1), "lora_unet_down_blocks_0_attentions_0_proj_in");
        Path file = dir.resolve("style.safetensors");
        writeKohya(file, layers);
        try (StableDiffusionModelSpec spec = folder("sd1-tiny")) {
            ModelAddons.Applied a = ModelAddons.apply(spec, List.of(new ModelAddons.Lora(file, 0.7)), List.of());
            try (StableDiffusionModelSpec merged = a.spec()) {
                assertAllMerged(spec, merged, layers, 0.7);
                assertOnlyTouched(merged.unetWeights(), layers, true);
                assertOnlyTouched(merged.textEncoderWeights(), layers, false);
                assertArrayEquals(spec.unetWeights().tensor("conv_in.weight").toFloatArray(), merged.unetWeights().tensor("conv_in.weight").toFloatArray());
                assertEquals(List.of(), a.warnings());
                assertTrue(a.summary().getFirst().contains("4 U-Net and 2 text-encoder weights"), a.summary().toString());
                assertTrue(a.summary().getFirst().contains("kohya"), a.summary().toString());
            }
        }
    }

    @Test
    void kohyaLoraOnTheHalfPrecisionSingleFileMatchesDiffusersAndLdmNames(@TempDir Path dir) {
        // input_blocks.1.1 is down_blocks.0.attentions.0 in the original layout: some kohya/LyCORIS files use these names.
        List<Layer> layers = kohyaLayers(new SplittableRandom(2), "lora_unet_input_blocks_1_1_proj_in");
        Path file = dir.resolve("style.safetensors");
        writeKohya(file, layers);
        try (StableDiffusionModelSpec spec = singleFile("sd1-tiny")) {
            ModelAddons.Applied a = ModelAddons.apply(spec, List.of(new ModelAddons.Lora(file, 1.3)), List.of());
            try (StableDiffusionModelSpec merged = a.spec()) {
                assertAllMerged(spec, merged, layers, 1.3);
                assertOnlyTouched(merged.unetWeights(), layers, true);
                assertEquals(List.of(), a.warnings());
            }
        }
    }

    @Test
    void peftLoraWithMetadataAlphaMergesIntoTheStackedOpenClipProjectionsOfSd2(@TempDir Path dir) {
        SplittableRandom r = new SplittableRandom(3);
        // SD 2.x: linear proj_in, and q/k/v stored stacked in OpenCLIP's in_proj_weight (the single file).
        List<Layer> layers = List.of(
                layer(r, true, "down_blocks.0.attentions.0.proj_in.weight", "unet.down_blocks.0.attentions.0.proj_in",
                        new int[] {4, 32}, new int[] {32, 4}, 8),
                layer(r, true, "down_blocks.0.resnets.0.conv2.weight", "unet.down_blocks.0.resnets.0.conv2",
                        new int[] {4, 32, 3, 3}, new int[] {32, 4, 1, 1}, 8),
                layer(r, false, "text_model.encoder.layers.0.self_attn.v_proj.weight", "text_encoder.text_model.encoder.layers.0.self_attn.v_proj",
                        new int[] {4, 32}, new int[] {32, 4}, 2));
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (Layer l : layers) {
            t.put(l.key() + ".lora_A.weight", Tensor.of(l.down(), l.downShape()));
            t.put(l.key() + ".lora_B.weight", Tensor.of(l.up(), l.upShape()));
        }
        Path file = dir.resolve("pytorch_lora_weights.safetensors");
        SafetensorsWriter.write(file, t, Map.of("lora_adapter_metadata", "{\"unet.lora_alpha\": 8, \"unet.r\": 4, \"text_encoder.lora_alpha\": 2}"),
                null, false);
        for (StableDiffusionModelSpec spec : List.of(singleFile("sd2-tiny"), folder("sd2-tiny"))) {
            try (spec) {
                ModelAddons.Applied a = ModelAddons.apply(spec, List.of(new ModelAddons.Lora(file, 0.5)), List.of());
                try (StableDiffusionModelSpec merged = a.spec()) {
                    assertAllMerged(spec, merged, layers, 0.5);
                    String k = "text_model.encoder.layers.0.self_attn.k_proj.weight";
                    assertArrayEquals(spec.textEncoderWeights().tensor(k).toFloatArray(), merged.textEncoderWeights().tensor(k).toFloatArray(),
                            "k, stacked beside v in the single file, is untouched");
                    assertTrue(a.summary().getFirst().contains("PEFT"), a.summary().toString());
                }
            }
        }
    }

    @Test
    void olderDiffusersAttentionProcessorNamesMapToTheirLayers(@TempDir Path dir) {
        SplittableRandom r = new SplittableRandom(4);
        List<Layer> layers = List.of(
                layer(r, true, "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_out.0.weight",
                        "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.processor.to_out_lora", new int[] {4, 64}, new int[] {64, 4}, Double.NaN),
                layer(r, false, "text_model.encoder.layers.2.self_attn.k_proj.weight",
                        "text_encoder.text_model.encoder.layers.2.self_attn.k_proj.lora_linear_layer", new int[] {2, 32}, new int[] {32, 2}, Double.NaN));
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (Layer l : layers) {
            t.put(l.key() + ".down.weight", Tensor.of(l.down(), l.downShape()));
            t.put(l.key() + ".up.weight", Tensor.of(l.up(), l.upShape()));
        }
        Path file = dir.resolve("old.safetensors");
        SafetensorsWriter.write(file, t);
        try (StableDiffusionModelSpec spec = folder("sd1-tiny")) {
            ModelAddons.Applied a = ModelAddons.apply(spec, List.of(new ModelAddons.Lora(file, 1.0)), List.of());
            try (StableDiffusionModelSpec merged = a.spec()) {
                assertAllMerged(spec, merged, layers, 1.0);
            }
        }
    }

    @Test
    void twoFilesOnOneWeightAddTheirUpdates(@TempDir Path dir) {
        SplittableRandom r = new SplittableRandom(5);
        String target = "mid_block.attentions.0.transformer_blocks.0.attn1.to_v.weight";
        String key = "lora_unet_mid_block_attentions_0_transformer_blocks_0_attn1_to_v";
        Layer first = layer(r, true, target, key, new int[] {4, 64}, new int[] {64, 4}, 4);
        Layer second = layer(r, true, target, key, new int[] {2, 64}, new int[] {64, 2}, 1);
        writeKohya(dir.resolve("a.safetensors"), List.of(first));
        writeKohya(dir.resolve("b.safetensors"), List.of(second));
        try (StableDiffusionModelSpec spec = folder("sd1-tiny")) {
            ModelAddons.Applied a = ModelAddons.apply(spec, List.of(new ModelAddons.Lora(dir.resolve("a.safetensors"), 1.0),
                    new ModelAddons.Lora(dir.resolve("b.safetensors"), -2.0)), List.of());
            try (StableDiffusionModelSpec merged = a.spec()) {
                float[] w = spec.unetWeights().tensor(target).toFloatArray();
                float[] m = merged.unetWeights().tensor(target).toFloatArray();
                for (int o = 0; o < 64; o++) {
                    for (int j = 0; j < 64; j++) {
                        double d1 = 0;
                        for (int k = 0; k < 4; k++) {
                            d1 += (double) first.up()[o * 4 + k] * first.down()[k * 64 + j];
                        }
                        double d2 = 0;
                        for (int k = 0; k < 2; k++) {
                            d2 += (double) second.up()[o * 2 + k] * second.down()[k * 64 + j];
                        }
                        double expected = w[o * 64 + j] + 1.0 * (4.0 / 4) * d1 - 2.0 * (1.0 / 2) * d2;
                        assertEquals(expected, m[o * 64 + j], 1e-5, "element " + (o * 64 + j));
                    }
                }
            }
        }
    }

    private static GenerationRequest small(String prompt) {
        return GenerationRequest.textToImage(prompt).withSteps(2).withSize(64, 64).withScheduler("ddim", false).withSeed(5)
                .withNegativePrompt("blurry");
    }

    @Test
    void scaleZeroGivesTheBaseImageBitForBitAndOfflineMergingGivesTheSameImage(@TempDir Path dir) throws Exception {
        List<Layer> layers = kohyaLayers(new SplittableRandom(6), "lora_unet_down_blocks_0_attentions_0_proj_in");
        Path file = dir.resolve("style.safetensors");
        writeKohya(file, layers);
        Path model = conf.resolve("sd1-tiny");
        GenerationRequest req = small("a red apple");
        GenerationResult base;
        try (StableDiffusionPipeline p = StableDiffusionPipeline.load(model, null, null, cpu)) {
            base = p.generate(req, StepListener.NONE);
        }
        try (StableDiffusionPipeline p = StableDiffusionPipeline.load(model, null, null, null, cpu, cpu,
                List.of(new ModelAddons.Lora(file, 0.0)), List.of())) {
            GenerationResult zero = p.generate(req, StepListener.NONE);
            assertArrayEquals(base.latents(), zero.latents());
            assertArrayEquals(base.images().get(0).data(), zero.images().get(0).data());
        }
        GenerationResult withLora;
        try (StableDiffusionPipeline p = StableDiffusionPipeline.load(model, null, null, null, cpu, cpu,
                List.of(new ModelAddons.Lora(file, 0.8)), List.of())) {
            withLora = p.generate(req, StepListener.NONE);
            assertFalse(java.util.Arrays.equals(base.latents(), withLora.latents()), "the LoRA changes the result");
        }

        // The same weights merged here in float64, written as a model folder of their own.
        Path offline = Files.createDirectory(dir.resolve("merged"));
        for (String part : List.of("model_index.json", "scheduler", "tokenizer", "vae")) {
            Files.createSymbolicLink(offline.resolve(part), model.resolve(part));
        }
        try (StableDiffusionModelSpec spec = folder("sd1-tiny")) {
            for (boolean unet : new boolean[] {true, false}) {
                String part = unet ? "unet" : "text_encoder";
                Path out = Files.createDirectory(offline.resolve(part));
                Files.copy(model.resolve(part).resolve("config.json"), out.resolve("config.json"));
                WeightSource w = unet ? spec.unetWeights() : spec.textEncoderWeights();
                Map<String, Tensor> tensors = new LinkedHashMap<>();
                for (String n : w.names()) {
                    tensors.put(n, w.tensor(n));
                }
                for (Layer l : layers) {
                    if (l.unet() == unet) {
                        double[] e = expectedInDouble(w, l, 0.8);
                        float[] f = new float[e.length];
                        for (int i = 0; i < e.length; i++) {
                            f[i] = (float) e[i];
                        }
                        tensors.put(l.target(), Tensor.of(f, w.info(l.target()).shape()));
                    }
                }
                SafetensorsWriter.write(out.resolve(unet ? "diffusion_pytorch_model.safetensors" : "model.safetensors"), tensors);
            }
        }
        try (StableDiffusionPipeline p = StableDiffusionPipeline.load(offline, null, null, cpu)) {
            GenerationResult merged = p.generate(req, StepListener.NONE);
            float[] a = merged.images().get(0).data();
            float[] b = withLora.images().get(0).data();
            double worst = 0;
            for (int i = 0; i < a.length; i++) {
                worst = Math.max(worst, Math.abs(a[i] - b[i]));
            }
            assertTrue(worst <= 1e-4, "image from the offline merge differs by up to " + worst);
        }
    }

    @Test
    void layersMatchingNothingAndStrayTensorsAreReportedInOneLineEach(@TempDir Path dir) {
        SplittableRandom r = new SplittableRandom(7);
        List<Layer> layers = new ArrayList<>(List.of(
                layer(r, true, "up_blocks.1.attentions.0.proj_out.weight", "lora_unet_up_blocks_1_attentions_0_proj_out",
                        new int[] {2, 64, 1, 1}, new int[] {64, 2, 1, 1}, 2),
                layer(r, true, "none", "lora_unet_up_blocks_7_attentions_0_proj_out", new int[] {2, 64}, new int[] {64, 2}, 2),
                layer(r, true, "none", "lora_unet_down_blocks_0_attentions_0_norm", new int[] {2, 32}, new int[] {32, 2}, 2)));
        Path file = dir.resolve("partial.safetensors");
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (Layer l : layers) {
            t.put(l.key() + ".lora_down.weight", Tensor.of(l.down(), l.downShape()));
            t.put(l.key() + ".lora_up.weight", Tensor.of(l.up(), l.upShape()));
        }
        t.put("lora_unet_up_blocks_1_attentions_0_proj_out.scale_weight", Tensor.of(new float[] {1}));
        SafetensorsWriter.write(file, t);
        try (StableDiffusionModelSpec spec = folder("sd1-tiny")) {
            ModelAddons.Applied a = ModelAddons.apply(spec, List.of(new ModelAddons.Lora(file, 1.0)), List.of());
            try (StableDiffusionModelSpec merged = a.spec()) {
                assertEquals(2, a.warnings().size(), a.warnings().toString());
                String unmatched = a.warnings().get(0);
                assertTrue(unmatched.startsWith(file + ": 2 of its 3 LoRA layers match no weight of this model"), unmatched);
                assertTrue(unmatched.contains("lora_unet_up_blocks_7_attentions_0_proj_out")
                        && unmatched.contains("lora_unet_down_blocks_0_attentions_0_norm"), "a norm weight is not a layer a LoRA adapts: " + unmatched);
                assertTrue(a.warnings().get(1).contains("1 tensors are no part of a LoRA pair") && a.warnings().get(1).contains("scale_weight"),
                        a.warnings().get(1));
                a.warnings().forEach(w -> assertFalse(w.contains("\n")));
                assertMerged(spec.unetWeights(), merged.unetWeights(), layers.getFirst(), 1.0);
            }
        }
    }

    private static String failure(Path dir, String name, Map<String, Tensor> tensors) {
        Path file = dir.resolve(name);
        SafetensorsWriter.write(file, tensors);
        try (StableDiffusionModelSpec spec = folder("sd1-tiny")) {
            WeightException e = assertThrows(WeightException.class,
                    () -> ModelAddons.apply(spec, List.of(new ModelAddons.Lora(file, 1.0)), List.of()).spec().close());
            assertFalse(e.getMessage().contains("\n"), e.getMessage());
            assertTrue(e.getMessage().startsWith(file.toString()), "names the file: " + e.getMessage());
            return e.getMessage();
        }
    }

    @Test
    void badFilesFailInOneLineNamingFileKeyAndShapes(@TempDir Path dir) throws Exception {
        String key = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k";
        String m = failure(dir, "shape.safetensors", Map.of(key + ".lora_down.weight", Tensor.zeros(4, 768),
                key + ".lora_up.weight", Tensor.zeros(32, 4)));
        assertTrue(m.contains(key) && m.contains("[32, 768]") && m.contains("[32, 32]")
                && m.contains("down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight"), m);
        assertTrue(failure(dir, "rank.safetensors", Map.of(key + ".lora_down.weight", Tensor.zeros(8, 32),
                key + ".lora_up.weight", Tensor.zeros(32, 4))).contains("rank mismatch"));
        assertTrue(failure(dir, "half.safetensors", Map.of(key + ".lora_down.weight", Tensor.zeros(8, 32)))
                .contains("has no matching up"));
        assertTrue(failure(dir, "sdxl.safetensors", Map.of("lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", Tensor.zeros(4, 768),
                "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", Tensor.zeros(3072, 4))).contains("an SDXL LoRA"));
        assertTrue(failure(dir, "loha.safetensors", Map.of(key + ".hada_w1_a", Tensor.zeros(32, 4))).contains("LoHa"));
        assertTrue(failure(dir, "other.safetensors", Map.of("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight",
                Tensor.zeros(4, 640), "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_up.weight", Tensor.zeros(640, 4)))
                .contains("none of its 1 LoRA layers matches"));
        assertTrue(failure(dir, "empty.safetensors", Map.of("weight", Tensor.zeros(2))).contains("holds no LoRA weights"));

        Path truncated = dir.resolve("truncated.safetensors");
        Files.copy(dir.resolve("shape.safetensors"), truncated);
        try (FileChannel ch = FileChannel.open(truncated, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 100);
        }
        Path pickle = Files.writeString(dir.resolve("style.pt"), "not read");
        try (StableDiffusionModelSpec spec = folder("sd1-tiny")) {
            for (Path bad : List.of(truncated, pickle, dir.resolve("missing.safetensors"))) {
                WeightException e = assertThrows(WeightException.class,
                        () -> ModelAddons.apply(spec, List.of(new ModelAddons.Lora(bad, 1.0)), List.of()));
                assertTrue(e.getMessage().startsWith(bad.toString()) && !e.getMessage().contains("\n"), e.getMessage());
            }
        }
        assertTrue(assertThrows(LoraException.class, () -> dev.ldm4j.weights.lora.LoraFile.open(dir.resolve("rank.safetensors")))
                .getMessage().contains("rank mismatch"));
    }
}
