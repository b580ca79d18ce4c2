// Receives the cross-attention probabilities of a run (StableDiffusionPipeline.setCrossAttentionListener): for every
// U-Net evaluation, each cross-attention layer's softmax over the text tokens, averaged over heads, for the conditional
// rows of the batch (the B rows of [uncond x B, cond x B] under classifier-free guidance). CrossAttentionHeatMaps
// turns them into DAAM's per-token heat maps (Tang et al. 2023).
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.unet.CrossAttentionMap;

@FunctionalInterface
public interface CrossAttentionListener {
    /**
     * @param step  1-based index of the denoising step whose U-Net call this is (a second-order sampler evaluates twice
     *              per step of its schedule; each evaluation is a step here, as StepListener counts them)
     * @param total how many steps the run takes
     * @param map   one layer's probabilities, rows = the batch size, row b the conditional row of image b
     */
    void onCrossAttention(int step, int total, CrossAttentionMap map);
}
