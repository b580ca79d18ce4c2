// The derived tensors are views of the checkpoint's storage with the right elements.
package dev.ldm4j.weights.keys;

import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.MapWeightSource;
import dev.ldm4j.weights.WeightException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorViewTest {
    private static Tensor iota(int... shape) {
        float[] d = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < d.length; i++) {
            d[i] = i;
        }
        return Tensor.of(d, shape);
    }

    @Test
    void openClipInProjectionSplitsIntoQueryKeyValueRowViews() {
        int c = 4;
        Tensor stacked = iota(3 * c, c);
        Tensor bias = iota(3 * c);
        MapWeightSource src = new MapWeightSource("memory")
                .put("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight", stacked)
                .put("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_bias", bias);
        MappedWeightSource text = OriginalLayout.textEncoder(src, 1);
        String[] parts = {"q_proj", "k_proj", "v_proj"};
        for (int p = 0; p < 3; p++) {
            Tensor w = text.tensor("text_model.encoder.layers.0.self_attn." + parts[p] + ".weight");
            assertSame(stacked.storage(), w.storage(), "a view, not a copy");
            assertArrayEquals(new int[] {c, c}, w.shape());
            float[] expected = new float[c * c];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = p * c * c + i;
            }
            assertArrayEquals(expected, w.toFloatArray());
            Tensor b = text.tensor("text_model.encoder.layers.0.self_attn." + parts[p] + ".bias");
            assertArrayEquals(new float[] {p * c, p * c + 1, p * c + 2, p * c + 3}, b.toFloatArray());
        }
    }

    @Test
    void vaeAttentionConvKernelsBecomeLinearWeights() {
        Tensor q = iota(3, 3, 1, 1);
        MapWeightSource src = new MapWeightSource("memory")
                .put("first_stage_model.decoder.mid.attn_1.q.weight", q)
                .put("first_stage_model.decoder.mid.attn_1.q.bias", iota(3))
                .put("first_stage_model.decoder.mid.attn_1.norm.weight", iota(3));
        MappedWeightSource vae = OriginalLayout.vae(src, 4);
        Tensor w = vae.tensor("decoder.mid_block.attentions.0.to_q.weight");
        assertArrayEquals(new int[] {3, 3}, w.shape());
        assertSame(q.storage(), w.storage());
        assertArrayEquals(q.toFloatArray(), w.toFloatArray());
        assertArrayEquals(new int[] {3}, vae.info("decoder.mid_block.attentions.0.to_q.bias").shape());
        assertTrue(vae.names().contains("decoder.mid_block.attentions.0.group_norm.weight"));
    }

    @Test
    void decoderUpLevelsAreReversed() {
        MapWeightSource src = new MapWeightSource("memory")
                .put("first_stage_model.decoder.up.0.block.2.conv1.weight", iota(2, 2, 3, 3))
                .put("first_stage_model.decoder.up.3.upsample.conv.bias", iota(2));
        MappedWeightSource vae = OriginalLayout.vae(src, 4);
        assertTrue(vae.names().contains("decoder.up_blocks.3.resnets.2.conv1.weight"), vae.names().toString());
        assertTrue(vae.names().contains("decoder.up_blocks.0.upsamplers.0.conv.bias"), vae.names().toString());
    }

    @Test
    void unknownTensorsAreReportedByName() {
        MapWeightSource src = new MapWeightSource("memory")
                .put("model.diffusion_model.input_blocks.0.0.weight", iota(2, 4, 3, 3))
                .put("model.diffusion_model.input_blocks.99.0.in_layers.0.weight", iota(2))
                .put("model.diffusion_model.label_emb.0.0.weight", iota(2, 2));
        MappedWeightSource unet = OriginalLayout.unet(src, new UNetStructure(2, new boolean[] {true, true, true, false}));
        assertTrue(unet.names().contains("conv_in.weight"));
        assertArrayEquals(new String[] {"model.diffusion_model.input_blocks.99.0.in_layers.0.weight",
                "model.diffusion_model.label_emb.0.0.weight"}, unet.unmapped().toArray());
    }

    @Test
    void misShapedStackedProjectionIsRefusedByName() {
        MapWeightSource src = new MapWeightSource("memory").put("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight", iota(7, 4));
        WeightException e = assertThrows(WeightException.class, () -> OriginalLayout.textEncoder(src, 1));
        assertTrue(e.getMessage().contains("resblocks.0.attn.in_proj_weight"), e.getMessage());
    }

    @Test
    void textModelPrefixIsAddedWhenAbsent() {
        MapWeightSource src = new MapWeightSource("memory").put("embeddings.token_embedding.weight", iota(5, 2))
                .put("embeddings.position_ids", iota(1, 3));
        var view = OriginalLayout.withTextModelPrefix(src);
        assertArrayEquals(new Object[] {"text_model.embeddings.token_embedding.weight"}, view.names().toArray());
    }
}
