// Reading LoRA files without a model: each layout's names give the right layer path, component,
// rank, alpha and update shape; alpha comes from an alpha tensor, else from diffusers'
// lora_adapter_metadata, else is absent (alpha = rank); settings that change the scale per layer
// are refused; stray tensors are listed; merging onto a small in-memory model adds exactly
// factor * up . down and leaves the other tensors as they are.
package dev.ldm4j.weights.lora;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.MapWeightSource;
import dev.ldm4j.weights.OverlayWeightSource;
import dev.ldm4j.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraFileTest {
    private static Path write(Path dir, String name, Map<String, Tensor> tensors, Map<String, String> metadata) {
        Path f = dir.resolve(name);
        SafetensorsWriter.write(f, tensors, metadata, null, false);
        return f;
    }

    private static LoraFile.Module only(LoraFile f) {
        assertEquals(1, f.modules().size(), f.modules().toString());
        return f.modules().getFirst();
    }

    @Test
    void eachLayoutGivesPathComponentRankAlphaAndShape(@TempDir Path dir) {
        Map<String, Tensor> kohya = new LinkedHashMap<>();
        kohya.put("lora_unet_mid_block_resnets_0_conv1.lora_down.weight", Tensor.zeros(4, 8, 3, 3));
        kohya.put("lora_unet_mid_block_resnets_0_conv1.lora_up.weight", Tensor.zeros(16, 4, 1, 1));
        kohya.put("lora_unet_mid_block_resnets_0_conv1.alpha", Tensor.of(new float[] {2}));
        try (LoraFile f = LoraFile.open(write(dir, "k.safetensors", kohya, Map.of()))) {
            LoraFile.Module m = only(f);
            assertEquals(LoraFile.Format.KOHYA, f.format());
            assertEquals("mid_block_resnets_0_conv1", m.path());
            assertTrue(m.flat());
            assertEquals(LoraFile.Component.UNET, m.component());
            assertEquals(4, m.rank());
            assertEquals(0.5, m.alphaOverRank());
            assertArrayEquals(new int[] {16, 8, 3, 3}, m.deltaShape());
        }

        Map<String, Tensor> peft = new LinkedHashMap<>();
        peft.put("text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_A.weight", Tensor.zeros(2, 8));
        peft.put("text_encoder.text_model.encoder.layers.0.mlp.fc1.lora_B.weight", Tensor.zeros(32, 2));
        try (LoraFile f = LoraFile.open(write(dir, "p.safetensors", peft, Map.of("lora_adapter_metadata", "{\"text_encoder.lora_alpha\": 8}")))) {
            LoraFile.Module m = only(f);
            assertEquals(LoraFile.Format.PEFT, f.format());
            assertEquals("text_model.encoder.layers.0.mlp.fc1", m.path());
            assertFalse(m.flat());
            assertEquals(LoraFile.Component.TEXT_ENCODER, m.component());
            assertEquals(4.0, m.alphaOverRank(), "lora_alpha 8 over rank 2 from the metadata");
        }
        try (LoraFile f = LoraFile.open(write(dir, "p-plain.safetensors", peft, Map.of()))) {
            assertTrue(Double.isNaN(only(f).alpha()));
            assertEquals(1.0, only(f).alphaOverRank(), "no alpha anywhere: alpha = rank");
        }

        Map<String, Tensor> old = new LinkedHashMap<>();
        old.put("unet.up_blocks.1.attentions.2.transformer_blocks.0.attn1.processor.to_out_lora.down.weight", Tensor.zeros(4, 8));
        old.put("unet.up_blocks.1.attentions.2.transformer_blocks.0.attn1.processor.to_out_lora.up.weight", Tensor.zeros(8, 4));
        try (LoraFile f = LoraFile.open(write(dir, "o.safetensors", old, Map.of()))) {
            assertEquals("up_blocks.1.attentions.2.transformer_blocks.0.attn1.to_out.0", only(f).path());
            assertEquals(LoraFile.Format.DIFFUSERS_OLD, f.format());
        }

        Map<String, Tensor> bare = new LinkedHashMap<>();
        bare.put("down_blocks.0.attentions.0.proj_in.lora.down.weight", Tensor.zeros(4, 8));
        bare.put("down_blocks.0.attentions.0.proj_in.lora.up.weight", Tensor.zeros(8, 4));
        bare.put("down_blocks.0.attentions.0.proj_in.notes", Tensor.zeros(1));
        try (LoraFile f = LoraFile.open(write(dir, "b.safetensors", bare, Map.of()))) {
            assertEquals(LoraFile.Component.EITHER, only(f).component());
            assertEquals(List.of("down_blocks.0.attentions.0.proj_in.notes"), f.unknownKeys());
        }
    }

    @Test
    void scaleSettingsThatAreNotReadAndBadAlphasAreRefused(@TempDir Path dir) {
        Map<String, Tensor> peft = Map.of("unet.conv_in.lora_A.weight", Tensor.zeros(2, 4, 3, 3), "unet.conv_in.lora_B.weight", Tensor.zeros(8, 2, 1, 1));
        Path pattern = write(dir, "pattern.safetensors", peft, Map.of("lora_adapter_metadata", "{\"unet.alpha_pattern\": {\"conv_in\": 4}}"));
        assertTrue(assertThrows(LoraException.class, () -> LoraFile.open(pattern)).getMessage().contains("alpha_pattern"));
        Path rs = write(dir, "rs.safetensors", peft, Map.of("lora_adapter_metadata", "{\"use_rslora\": true}"));
        assertTrue(assertThrows(LoraException.class, () -> LoraFile.open(rs)).getMessage().contains("use_rslora"));
        Path json = write(dir, "json.safetensors", peft, Map.of("lora_adapter_metadata", "{not json"));
        assertTrue(assertThrows(LoraException.class, () -> LoraFile.open(json)).getMessage().contains("not valid JSON"));

        Map<String, Tensor> k = new LinkedHashMap<>();
        k.put("lora_unet_conv_in.lora_down.weight", Tensor.zeros(2, 4, 3, 3));
        k.put("lora_unet_conv_in.lora_up.weight", Tensor.zeros(8, 2, 1, 1));
        k.put("lora_unet_conv_in.alpha", Tensor.of(new float[] {Float.POSITIVE_INFINITY}));
        Path inf = write(dir, "inf.safetensors", k, Map.of());
        assertTrue(assertThrows(LoraException.class, () -> LoraFile.open(inf)).getMessage().contains("not a finite number"));
        k.put("lora_unet_conv_in.alpha", Tensor.of(new float[] {1, 2}, 2));
        Path two = write(dir, "two.safetensors", k, Map.of());
        assertTrue(assertThrows(LoraException.class, () -> LoraFile.open(two)).getMessage().contains("expected one number"));
        k.put("lora_unet_conv_in.alpha", Tensor.of(new float[] {1}));
        k.put("lora_unet_conv_in.lora_up.weight", Tensor.zeros(8, 2, 3, 3));
        Path upKernel = write(dir, "up.safetensors", k, Map.of());
        assertTrue(assertThrows(LoraException.class, () -> LoraFile.open(upKernel)).getMessage().contains("[out, r, 1, 1]"));
    }

    @Test
    void looksLikeLoraTellsLorasFromModels() {
        assertTrue(LoraFile.looksLikeLora(Set.of("lora_unet_conv_in.lora_down.weight")));
        assertTrue(LoraFile.looksLikeLora(Set.of("unet.conv_in.lora_A.weight")));
        assertTrue(LoraFile.looksLikeLora(Set.of("unet.x.processor.to_q_lora.down.weight")));
        assertFalse(LoraFile.looksLikeLora(Set.of("model.diffusion_model.input_blocks.0.0.weight", "conv_in.weight")));
    }

    @Test
    void mergingAddsFactorTimesUpDownToTheWeightInItsDtypeAndNothingElse(@TempDir Path dir) {
        float[] w = {1, 2, 3, 4, 5, 6};                               // [3, 2]
        float[] down = {1, -1};                                        // [1, 2]
        float[] up = {0.5f, 1, -2};                                    // [3, 1]
        MapWeightSource unet = new MapWeightSource("unet").put("blocks.0.to_q.weight", Tensor.of(w, 3, 2))
                .put("blocks.0.to_q.bias", Tensor.of(new float[] {9, 9, 9}, 3));
        MapWeightSource text = new MapWeightSource("text").put("text_model.fc.weight", Tensor.of(new float[] {1, 1}, 1, 2));
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("lora_unet_blocks_0_to_q.lora_down.weight", Tensor.of(down, 1, 2));
        t.put("lora_unet_blocks_0_to_q.lora_up.weight", Tensor.of(up, 3, 1));
        t.put("lora_unet_blocks_0_to_q.alpha", Tensor.of(new float[] {4}));
        Path file = write(dir, "l.safetensors", t, Map.of());
        try (Backend cpu = Backends.create("cpu"); LoraFile f = LoraFile.open(file)) {
            LoraMerge.Result r = LoraMerge.merge(unet, text, List.of(new LoraMerge.Request(f, 0.5)), cpu);
            // factor = 0.5 * 4 / 1 = 2; up . down = [[0.5, -0.5], [1, -1], [-2, 2]]
            assertArrayEquals(new float[] {2, 1, 5, 2, 1, 10}, r.unet().tensor("blocks.0.to_q.weight").toFloatArray());
            assertEquals(DType.F32, r.unet().info("blocks.0.to_q.weight").dtype());
            assertArrayEquals(new float[] {9, 9, 9}, r.unet().tensor("blocks.0.to_q.bias").toFloatArray());
            assertEquals(Set.of("blocks.0.to_q.weight"), ((OverlayWeightSource) r.unet()).replacedNames());
            assertSame(text, r.textEncoder(), "an untouched component is the source itself");
            assertEquals(1, r.reports().getFirst().unetLayers());
            r.created().forEach(dev.ldm4j.weights.WeightSource::close);
        }
    }
}
