// CrossAttentionHeatMaps on hand-made maps: a 2x2 map upsampled bilinearly (align_corners = False) to 4x4 has the
// values PyTorch's interpolate gives; maps are summed over layers and steps, of the asked batch row, the mid block's
// left out unless asked for; the result is min-max normalised.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.unet.CrossAttentionMap;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class CrossAttentionHeatMapsTest {
    /** A [rows, 2x2, 2 tokens] map whose token 1 has probability p[row][cell] (token 0 the rest). */
    private static CrossAttentionMap map(String block, float[]... p) {
        float[] probs = new float[p.length * 4 * 2];
        for (int r = 0; r < p.length; r++) {
            for (int c = 0; c < 4; c++) {
                probs[(r * 4 + c) * 2 + 1] = p[r][c];
                probs[(r * 4 + c) * 2] = 1 - p[r][c];
            }
        }
        return new CrossAttentionMap(0, block, 2, 2, 2, p.length, probs);
    }

    @Test
    void aTwoByTwoMapIsUpsampledBilinearlyAndNormalised() {
        CrossAttentionHeatMaps maps = new CrossAttentionHeatMaps();
        maps.onCrossAttention(1, 2, map("down_blocks.0", new float[] {1, 0, 0, 0}));
        maps.onCrossAttention(2, 2, map("up_blocks.1", new float[] {1, 0, 0, 0}));
        // torch.nn.functional.interpolate([[1, 0], [0, 0]], size=4, mode="bilinear", align_corners=False): per axis the
        // weights of the first source cell are 1, 0.75, 0.25, 0, so the 4x4 map is their outer product.
        double[] a = {1, 0.75, 0.25, 0};
        float[] want = new float[16];
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 4; x++) {
                want[y * 4 + x] = (float) (a[y] * a[x]);
            }
        }
        assertArrayEquals(want, maps.heatMap(1, 4, 4), 1e-6f);
        assertEquals(2, maps.mapCount());
    }

    @Test
    void theMidBlockIsLeftOutUnlessAskedForAndRowsAreKeptApart() {
        CrossAttentionHeatMaps daam = new CrossAttentionHeatMaps(1, false);
        CrossAttentionHeatMaps all = new CrossAttentionHeatMaps(1, true);
        for (CrossAttentionHeatMaps m : new CrossAttentionHeatMaps[] {daam, all}) {
            m.onCrossAttention(1, 1, map("down_blocks.1", new float[] {1, 1, 1, 1}, new float[] {0, 0, 0, 1}));
            m.onCrossAttention(1, 1, map("mid_block", new float[] {0, 0, 0, 0}, new float[] {1, 0, 0, 0}));
        }
        float[] d = daam.heatMap(1, 2, 2);
        assertArrayEquals(new float[] {0, 0, 0, 1}, d, 1e-6f, "row 1 of the down block only");
        float[] a = all.heatMap(1, 2, 2);
        assertArrayEquals(new float[] {1, 0, 0, 1}, a, 1e-6f, "row 1 of both blocks");
        assertThrows(IllegalArgumentException.class, () -> new CrossAttentionHeatMaps(2, false)
                .onCrossAttention(1, 1, map("down_blocks.1", new float[] {0, 0, 0, 0})));
        assertThrows(IllegalStateException.class, () -> new CrossAttentionHeatMaps().heatMap(0, 2, 2));
    }
}
