// Dynamic thresholding of the predicted clean sample x0 (Saharia et al. 2022, "Photorealistic Text-to-Image
// Diffusion Models with Deep Language Understanding" (Imagen), sec. 2.3): per image, s = the ratio-quantile
// of |x0|, clamped to [1, sample_max_value]; then x0 = clamp(x0, -s, s) / s. With s clamped to 1 it is plain
// clipping to [-1, 1]. As diffusers' _threshold_sample (the scheduler keys thresholding,
// dynamic_thresholding_ratio, sample_max_value), which the DDPM, DDIM, DPM-Solver, DEIS and UniPC schedulers
// apply to x0 where diffusers does.
package dev.ldm4j.diffusion.schedulers;

import java.util.Arrays;

/**
 * @param ratio    the quantile of |x0| that sets the threshold, in (0, 1] (dynamic_thresholding_ratio; Imagen: 0.995)
 * @param maxValue the largest threshold s (sample_max_value), at least 1
 */
public record DynamicThresholding(double ratio, double maxValue) {

    public DynamicThresholding {
        if (!(ratio > 0 && ratio <= 1)) {
            throw new IllegalArgumentException("dynamic_thresholding_ratio must be in (0, 1], got " + ratio);
        }
        if (!(maxValue >= 1) || Double.isInfinite(maxValue)) {
            throw new IllegalArgumentException("sample_max_value must be a finite number >= 1, got " + maxValue);
        }
    }

    /** The thresholding a scheduler config asks for (thresholding = true), or null when it asks for none. */
    static DynamicThresholding of(SchedulerConfig c) {
        if (!c.getBoolean("thresholding")) {
            return null;
        }
        try {
            return new DynamicThresholding(c.getDouble("dynamic_thresholding_ratio"), c.getDouble("sample_max_value"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(c.className() + ": " + e.getMessage());
        }
    }

    /** Thresholds x0, [B, ...] row-major with B = batch, in place, each image with its own s. */
    public void apply(double[] x0, int batch) {
        int n = x0.length / batch;
        double[] abs = new double[n];
        for (int b = 0; b < batch; b++) {
            int off = b * n;
            for (int i = 0; i < n; i++) {
                abs[i] = Math.abs(x0[off + i]);
            }
            double s = Math.min(Math.max(quantile(abs, ratio), 1.0), maxValue);
            for (int i = 0; i < n; i++) {
                x0[off + i] = Math.max(-s, Math.min(s, x0[off + i])) / s;
            }
        }
    }

    /** torch.quantile's default ("linear"): sorted v, position q (n - 1), interpolated between its two neighbours. Sorts values. */
    static double quantile(double[] values, double q) {
        Arrays.sort(values);
        double pos = q * (values.length - 1);
        int below = (int) Math.floor(pos);
        int above = Math.min(below + 1, values.length - 1);
        double w = pos - below;
        return values[below] + w * (values[above] - values[below]);
    }
}
