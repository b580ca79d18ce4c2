// One cross-attention layer's attention probabilities from one U-Net call, as a CrossAttentionProbe hands them to a
// listener: softmax(q k^T / sqrt(d)) over the text tokens, averaged over the heads (Attention.headAveragedProbabilities),
// for the batch rows the listener asked for. The raw material of DAAM's heat maps (Tang et al. 2023).
package dev.ldm4j.diffusion.unet;

/**
 * @param layer         the cross-attention layer's index in the U-Net's forward order (down, mid, up), from 0
 * @param block         the U-Net block holding it, by its checkpoint name: "down_blocks.1", "mid_block", "up_blocks.0", ...
 * @param height        the layer's feature-map height (latent height / 2^level, rounded up)
 * @param width         the layer's feature-map width
 * @param tokens        the context length L (77 for one CLIP chunk)
 * @param rows          the number of batch rows held
 * @param probabilities [rows, height * width, tokens] row-major, on the host; each position's tokens sum to 1
 */
public record CrossAttentionMap(int layer, String block, int height, int width, int tokens, int rows, float[] probabilities) {
    public CrossAttentionMap {
        if ((long) rows * height * width * tokens != probabilities.length) {
            throw new IllegalArgumentException("cross-attention map: " + probabilities.length + " values for [" + rows + ", "
                    + height + "x" + width + ", " + tokens + "]");
        }
    }

    /** The probability that position (y, x) of row attends to token. */
    public float at(int row, int y, int x, int token) {
        return probabilities[((row * height + y) * width + x) * tokens + token];
    }
}
