// DAAM, "What the DAAM: Interpreting Stable Diffusion Using Cross Attention" (Tang et al. 2023, Sec. 3): the heat map
// of text token k over the image is the sum, over the cross-attention layers l and every denoising step t, of that
// layer's attention probabilities for k, averaged over heads and upsampled to the image size:
//     D_k(x, y) = sum_t sum_l up( (1 / H) sum_h softmax(q_h k_h^T / sqrt(d))[:, k] )(x, y).
// l runs over the cross-attention layers but the mid block's, which DAAM's code leaves out (for SD 1.x its maps are
// the only 8x8 ones, too coarse to place anything); a constructor argument keeps them. Each token's map is then
// normalised to [0, 1] by its minimum and maximum, as DAAM draws it (WordHeatMap.expand_as, absolute = False).
// up is bilinear interpolation with PyTorch's align_corners = False convention (pixel centres), where DAAM uses
// bicubic. Upsampling is linear, so the sum is kept per feature-map size and each size is upsampled once, at the end,
// to whatever image size is asked: the same maps as upsampling every layer at every step, for a fraction of the work.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.unet.CrossAttentionMap;

import java.util.LinkedHashMap;
import java.util.Map;

public final class CrossAttentionHeatMaps implements CrossAttentionListener {
    private final int row;
    private final boolean midBlock;
    /** Per feature-map size (h << 16 | w): the sum over the kept layers and the steps, [h * w, tokens]. */
    private final Map<Integer, double[]> sums = new LinkedHashMap<>();
    private final Map<Integer, int[]> sizes = new LinkedHashMap<>();
    private int tokens = -1;
    private int maps;

    /**
     * Heat maps of image row of the batch (0: the first image); with midBlock false the mid block's maps are left out, as
     * DAAM's code leaves them out (for SD 1.x they are its only 8x8 maps).
     */
    public CrossAttentionHeatMaps(int row, boolean midBlock) {
        if (row < 0) {
            throw new IllegalArgumentException("batch row must be 0 or more, got " + row);
        }
        this.row = row;
        this.midBlock = midBlock;
    }

    /** DAAM's maps of the first image: every cross-attention layer but the mid block's. */
    public CrossAttentionHeatMaps() {
        this(0, false);
    }

    @Override
    public void onCrossAttention(int step, int total, CrossAttentionMap map) {
        if (row >= map.rows()) {
            throw new IllegalArgumentException("heat maps of batch row " + row + " asked of a batch of " + map.rows());
        }
        if (tokens >= 0 && map.tokens() != tokens) {
            throw new IllegalArgumentException("cross-attention maps over " + map.tokens() + " tokens after maps over " + tokens);
        }
        tokens = map.tokens();
        maps++;
        if (!midBlock && map.block().equals("mid_block")) {
            return;
        }
        int h = map.height(), w = map.width();
        int key = h << 16 | w;
        double[] sum = sums.computeIfAbsent(key, k -> new double[h * w * map.tokens()]);
        sizes.putIfAbsent(key, new int[] {h, w});
        float[] p = map.probabilities();
        int offset = row * h * w * tokens;
        for (int i = 0; i < sum.length; i++) {
            sum[i] += p[offset + i];
        }
    }

    /** How many layer maps (layers times U-Net evaluations) were received, the left-out mid block's included. */
    public int mapCount() {
        return maps;
    }

    /** The context length the maps cover (77 per CLIP chunk); -1 before the first map. */
    public int tokens() {
        return tokens;
    }

    /**
     * Token's heat map at width x height pixels, row-major [height * width], normalised to [0, 1] by its minimum and
     * maximum: every kept layer's map at every evaluation, upsampled bilinearly to the image, summed.
     */
    public float[] heatMap(int token, int width, int height) {
        if (maps == 0) {
            throw new IllegalStateException("no cross-attention maps were recorded");
        }
        if (token < 0 || token >= tokens) {
            throw new IllegalArgumentException("token " + token + " is outside 0.." + (tokens - 1));
        }
        if (width < 1 || height < 1) {
            throw new IllegalArgumentException("heat map size must be positive, got " + width + "x" + height);
        }
        double[] sum = new double[width * height];
        for (Map.Entry<Integer, double[]> e : sums.entrySet()) {
            int[] hw = sizes.get(e.getKey());
            addBilinear(e.getValue(), hw[0], hw[1], token, tokens, sum, height, width);
        }
        double min = Double.MAX_VALUE, max = -Double.MAX_VALUE;
        for (double v : sum) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        float[] map = new float[sum.length];
        for (int i = 0; i < sum.length; i++) {
            map[i] = (float) (max > min ? (sum[i] - min) / (max - min) : 0);
        }
        return map;
    }

    /**
     * out [outH * outW] += bilinear resize of channel c of src [h * w, channels], as torch.nn.functional.interpolate(mode =
     * "bilinear", align_corners = False): output pixel i samples source coordinate (i + 0.5) * h / outH - 0.5, clamped
     * to [0, h - 1], between its two neighbours.
     */
    static void addBilinear(double[] src, int h, int w, int c, int channels, double[] out, int outH, int outW) {
        for (int y = 0; y < outH; y++) {
            double sy = Math.min(Math.max((y + 0.5) * h / outH - 0.5, 0), h - 1);
            int y0 = (int) Math.floor(sy);
            int y1 = Math.min(y0 + 1, h - 1);
            double fy = sy - y0;
            for (int x = 0; x < outW; x++) {
                double sx = Math.min(Math.max((x + 0.5) * w / outW - 0.5, 0), w - 1);
                int x0 = (int) Math.floor(sx);
                int x1 = Math.min(x0 + 1, w - 1);
                double fx = sx - x0;
                double top = (1 - fx) * src[(y0 * w + x0) * channels + c] + fx * src[(y0 * w + x1) * channels + c];
                double bottom = (1 - fx) * src[(y1 * w + x0) * channels + c] + fx * src[(y1 * w + x1) * channels + c];
                out[y * outW + x] += (1 - fy) * top + fy * bottom;
            }
        }
    }
}
