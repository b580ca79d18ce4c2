// The guidance-scale embedding of LCM-distilled U-Nets: diffusers' LatentConsistencyModelPipeline.
// get_guidance_scale_embedding (after VDM, Kingma et al. 2021, as in Luo et al. 2023, sec. 4.2, and
// Meng et al. 2023, "On Distillation of Guided Diffusion Models"). The U-Net takes the guidance scale
// w as a sinusoidal feature vector in its timestep_cond, so one pass gives the guided prediction:
//
//   half = dim / 2,  f_k = exp(-k ln(10000) / (half - 1)),  k = 0 .. half-1
//   e(w) = [sin(1000 w f_0) .. sin(1000 w f_{half-1}), cos(1000 w f_0) .. cos(1000 w f_{half-1})] (+ one 0 if dim is odd)
//
// The pipeline passes w = guidance_scale - 1 (its guidance is Imagen's uncond + g (cond - uncond), the
// LCM paper's cond + w (cond - uncond)). ln(10000) / (half - 1) is a float32 number in diffusers (it
// comes from torch.tensor(10000.0)) whatever dtype the rest is computed in; so it is here. The rest is
// computed in double (as diffusers with dtype=float64, how the conformance reference was made): a float32
// pipeline differs by up to about 1e-4 at w = 7.5, where the arguments of sin reach 7500.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.tensor.Tensor;

public final class GuidanceScaleEmbedding {
    private GuidanceScaleEmbedding() {
    }

    /** get_guidance_scale_embedding(w, dim): one row per entry of w -> [w.length, dim]. */
    public static Tensor of(double[] w, int dim) {
        if (dim < 4) {
            throw new IllegalArgumentException("guidance embedding width must be at least 4 (half - 1 > 0), got " + dim);
        }
        int half = dim / 2;
        float step = (float) Math.log(10000.0) / (float) (half - 1);     // torch.log(torch.tensor(10000.0)) / (half - 1), float32
        float[] out = new float[w.length * dim];
        for (int b = 0; b < w.length; b++) {
            double scaled = w[b] * 1000.0;
            for (int k = 0; k < half; k++) {
                double arg = scaled * Math.exp(k * -(double) step);
                out[b * dim + k] = (float) Math.sin(arg);
                out[b * dim + half + k] = (float) Math.cos(arg);
            }
            // dim odd: the last column stays 0 (diffusers pads one zero).
        }
        return Tensor.of(out, w.length, dim);
    }

    /** The embedding the LCM pipeline feeds a batch of B at one guidance scale: w = guidanceScale - 1 for every row. */
    public static Tensor forGuidanceScale(double guidanceScale, int batch, int dim) {
        double[] w = new double[batch];
        java.util.Arrays.fill(w, guidanceScale - 1);
        return of(w, dim);
    }
}
