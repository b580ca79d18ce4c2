// Guidance in a limited interval of noise levels (Kynkäänniemi et al. 2024, "Applying Guidance in a Limited
// Interval Improves Sample and Distribution Quality in Diffusion Models"): classifier-free guidance is applied
// only at steps whose noise level sigma lies in [low, high]; elsewhere the step uses the plain conditional
// prediction (guidance weight 1). The paper finds guidance harmful at high noise (it collapses diversity) and
// unnecessary at low noise. sigma is Scheduler.sigmaAt, in the k-diffusion scale of the model's train schedule
// (SD 1.5: 0.029 to 14.6). Outside the interval the pipeline runs the U-Net on the conditional rows only, so
// those steps cost one pass instead of two and give exactly the conditional prediction.
package dev.ldm4j.diffusion.pipeline;

/**
 * @param low  the lowest sigma guided, >= 0
 * @param high the highest sigma guided, >= low (may be infinite)
 */
public record GuidanceInterval(double low, double high) {
    public GuidanceInterval {
        if (!(low >= 0) || !(high >= low) || Double.isInfinite(low)) {
            throw new IllegalArgumentException("a guidance interval needs 0 <= low <= high, got [" + low + ", " + high + "]");
        }
    }

    public boolean contains(double sigma) {
        return sigma >= low && sigma <= high;
    }
}
