// Small shared pieces of the k-diffusion samplers (Crowson's k-diffusion, as ported to diffusers):
// the denoised estimate D(x; sigma) for each prediction type, the model input scaling, and the
// default settings every k-diffusion scheduler declares.
package dev.ldm4j.diffusion.schedulers;

import java.util.Map;

final class KDiffusion {
    private KDiffusion() {
    }

    /** The settings shared by LMS, Heun, KDPM2 and KDPM2 ancestral, with diffusers' defaults. */
    static Map<String, Object> commonDefaults(double betaStart, double betaEnd) {
        Map<String, Object> d = NoiseSchedule.trainDefaults(betaStart, betaEnd, "linear");
        d.put("use_karras_sigmas", false);
        d.put("use_exponential_sigmas", false);
        d.put("use_beta_sigmas", false);
        d.put("prediction_type", "epsilon");
        d.put("timestep_spacing", "linspace");
        d.put("steps_offset", 0L);
        return d;
    }

    /**
     * D(x; sigma): the clean-sample estimate. eps: x - sigma eps; v (Salimans & Ho 2022 in sigma
     * form): -sigma / sqrt(sigma^2 + 1) v + x / (sigma^2 + 1); sample: the output itself.
     */
    static double denoised(String predictionType, double x, double m, double sigma) {
        return switch (predictionType) {
            case "epsilon" -> x - sigma * m;
            case "sample" -> m;
            default -> m * (-sigma / Math.sqrt(sigma * sigma + 1)) + x / (sigma * sigma + 1);
        };
    }

    /** The model input x / sqrt(sigma^2 + 1): unit variance for the VP-trained U-Net. */
    static float[] scaleInput(float[] x, double sigma) {
        double f = 1 / Math.sqrt(sigma * sigma + 1);
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) (x[i] * f);
        }
        return out;
    }

    /** torch.lerp(start, end, 0.5) in float32 (the weight >= 0.5 branch: end - (end - start) * (1 - w)). */
    static float lerpHalf(float start, float end) {
        return end - (end - start) * 0.5f;
    }

    /** [a0, a1, a1, a2, a2, ..., a_{n-1}, a_{n-1}, a_{n-1}]: diffusers' cat([a[:1], a[1:].repeat_interleave(2), a[-1:]]). */
    static double[] interleaveSigmas(float[] a) {
        int n = a.length;
        double[] out = new double[2 * n];
        out[0] = a[0];
        for (int i = 1; i < n; i++) {
            out[2 * i - 1] = a[i];
            out[2 * i] = a[i];
        }
        out[2 * n - 1] = a[n - 1];
        return out;
    }

    /** The sigmas as float32 values, as diffusers holds them in a float tensor. */
    static float[] float32(double[] sigmas) {
        float[] out = new float[sigmas.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) sigmas[i];
        }
        return out;
    }

    /**
     * The timesteps of the two-stage KDPM2 samplers: [t_0, tm_0, t_1, tm_1, t_2, ..., t_{n-1}], where
     * tm_{i-1} is the train timestep of midSigmas[i-1], the sigma of the second model call between
     * t_{i-1} and t_i.
     */
    static double[] interleaveTimesteps(double[] t, float[] midSigmas, float[] logTrainSigmas) {
        double[] out = new double[2 * t.length - 1];
        out[0] = t[0];
        for (int i = 1; i < t.length; i++) {
            out[2 * i - 1] = NoiseSchedule.sigmaToTFloat32(midSigmas[i - 1], logTrainSigmas);
            out[2 * i] = t[i];
        }
        return out;
    }
}
