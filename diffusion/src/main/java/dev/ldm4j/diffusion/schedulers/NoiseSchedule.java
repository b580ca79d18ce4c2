// The shared arithmetic of discrete-time noise schedules: betas, cumulative alphas, the timestep
// spacings of "Common Diffusion Noise Schedules and Sample Steps are Flawed" (Lin et al. 2023,
// Table 2), sigma <-> timestep conversion and the Karras et al. (2022) sigma schedule.
// Schedule tensors are float32 because diffusers builds them in float32 (torch.linspace, cumprod);
// reproducing that rounding keeps our timesteps and sigmas bit-compatible with the reference.
package dev.ldm4j.diffusion.schedulers;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

final class NoiseSchedule {
    private NoiseSchedule() {
    }

    /**
     * The train-schedule settings every scheduler declares first (num_train_timesteps = 1000,
     * beta_start, beta_end, beta_schedule, trained_betas = null), with the class's defaults; each
     * scheduler's defaults() appends its own settings in diffusers' order.
     */
    static Map<String, Object> trainDefaults(double betaStart, double betaEnd, String betaSchedule) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("num_train_timesteps", 1000L);
        d.put("beta_start", betaStart);
        d.put("beta_end", betaEnd);
        d.put("beta_schedule", betaSchedule);
        d.put("trained_betas", null);
        return d;
    }

    /** beta_1..beta_N from beta_schedule (linear, scaled_linear, squaredcos_cap_v2) or trained_betas, as float32. */
    static float[] betas(SchedulerConfig c) {
        float[] trained = c.getTrainedBetas();
        if (trained != null) {
            return trained;
        }
        int n = c.getInt("num_train_timesteps");
        if (n < 2) {
            throw new IllegalArgumentException(c.className() + ": num_train_timesteps must be at least 2, got " + n);
        }
        double start = c.getDouble("beta_start");
        double end = c.getDouble("beta_end");
        String schedule = c.getChoice("beta_schedule", "linear", "scaled_linear", "squaredcos_cap_v2");
        switch (schedule) {
            case "linear":
                return torchLinspace((float) start, (float) end, n);
            case "scaled_linear": {
                // Latent diffusion's schedule: linear in sqrt(beta), then squared (float32).
                float[] b = torchLinspace((float) Math.sqrt(start), (float) Math.sqrt(end), n);
                for (int i = 0; i < n; i++) {
                    b[i] = b[i] * b[i];
                }
                return b;
            }
            default:
                return betasForAlphaBar(n, 0.999);
        }
    }

    /**
     * Cosine schedule, Nichol & Dhariwal 2021 ("Improved DDPM"), eq. 17:
     * alpha_bar(t) = cos^2(((t + s) / (1 + s)) * pi / 2) with s = 0.008, and
     * beta_i = min(1 - alpha_bar(i+1/N) / alpha_bar(i/N), max_beta), in float64 then stored as float32.
     */
    static float[] betasForAlphaBar(int n, double maxBeta) {
        float[] b = new float[n];
        for (int i = 0; i < n; i++) {
            double t1 = (double) i / n;
            double t2 = (double) (i + 1) / n;
            b[i] = (float) Math.min(1 - alphaBar(t2) / alphaBar(t1), maxBeta);
        }
        return b;
    }

    private static double alphaBar(double t) {
        double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /**
     * torch.linspace(start, end, steps, dtype=float32) on the CPU: the step is computed in float32 and
     * the first half counts up from start, the second half down from end (so both ends are exact).
     */
    static float[] torchLinspace(float start, float end, int steps) {
        float[] out = new float[steps];
        if (steps == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (float) (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++) {
            out[i] = i < halfway ? start + step * (float) i : end - step * (float) (steps - i - 1);
        }
        return out;
    }

    /** alphas_cumprod = cumprod(1 - betas): torch's CPU cumprod accumulates in double and stores float32. */
    static float[] alphasCumprod(float[] betas) {
        float[] out = new float[betas.length];
        double acc = 1.0;
        for (int i = 0; i < betas.length; i++) {
            acc *= (float) (1.0f - betas[i]);
            out[i] = (float) acc;
        }
        return out;
    }

    /**
     * Rescales betas to zero terminal SNR, Lin et al. 2023, Algorithm 1: shift sqrt(alpha_bar) so its
     * last value is 0, scale it so the first is unchanged, and convert back to betas (float32).
     */
    static float[] rescaleZeroTerminalSnr(float[] betas) {
        int n = betas.length;
        float[] ac = alphasCumprod(betas);
        float[] sqrtAc = new float[n];
        for (int i = 0; i < n; i++) {
            sqrtAc[i] = (float) Math.sqrt(ac[i]);
        }
        float a0 = sqrtAc[0];
        float aT = sqrtAc[n - 1];
        float scale = a0 / (a0 - aT);
        float[] alphaBar = new float[n];
        for (int i = 0; i < n; i++) {
            float s = (sqrtAc[i] - aT) * scale;
            alphaBar[i] = s * s;
        }
        float[] out = new float[n];
        out[0] = 1f - alphaBar[0];
        for (int i = 1; i < n; i++) {
            out[i] = 1f - alphaBar[i] / alphaBar[i - 1];
        }
        return out;
    }

    /** The noise level of each train timestep, sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t) (float32). */
    static float[] trainSigmas(float[] alphasCumprod) {
        float[] s = new float[alphasCumprod.length];
        for (int i = 0; i < s.length; i++) {
            float a = alphasCumprod[i];
            s[i] = (float) Math.sqrt((1f - a) / a);
        }
        return s;
    }

    static float[] logOf(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) Math.log(x[i]);
        }
        return out;
    }

    /**
     * The DPM-Solver schedules' lambda_min_clipped: train timesteps whose half log-SNR
     * lambda_t = log(sqrt(a_t)) - log(sqrt(1 - a_t)) falls below lambdaMin are cut off the end;
     * returns the number of train timesteps kept (all of them for the default -inf).
     */
    static int lastTimestepAboveLambda(float[] alphasCumprod, double lambdaMin) {
        int clipped = 0;
        for (float a : alphasCumprod) {
            float lambda = (float) Math.log((float) Math.sqrt(a)) - (float) Math.log((float) Math.sqrt(1f - a));
            if (lambda < lambdaMin) {
                clipped++;
            }
        }
        return alphasCumprod.length - clipped;
    }

    /** numpy.linspace(start, stop, num) in float64: start + i * step, with the last value exactly stop. */
    static double[] npLinspace(double start, double stop, int num) {
        double[] out = new double[num];
        if (num == 1) {
            out[0] = start;
            return out;
        }
        double step = (stop - start) / (num - 1);
        for (int i = 0; i < num; i++) {
            out[i] = i * step + start;
        }
        out[num - 1] = stop;
        return out;
    }

    /** numpy.arange(start, stop, step) for a float step: ceil((stop - start) / step) values start + i * step. */
    static double[] npArange(double start, double stop, double step) {
        int len = (int) Math.max(0, Math.ceil((stop - start) / step));
        double[] out = new double[len];
        for (int i = 0; i < len; i++) {
            out[i] = start + i * step;
        }
        return out;
    }

    static double[] reversed(double[] a) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[a.length - 1 - i];
        }
        return out;
    }

    /**
     * Inference timesteps for the three spacings of Lin et al. 2023, Table 2, in descending order.
     * "linspace" keeps fractional values unless {@code roundLinspace} (DDIM, DDPM, PNDM round them to
     * integers; the k-diffusion schedulers keep them as float32). "leading" adds steps_offset,
     * "trailing" ends at N - 1.
     */
    static double[] spacedTimesteps(SchedulerConfig c, int steps, boolean roundLinspace) {
        int n = c.getInt("num_train_timesteps");
        String spacing = c.getChoice("timestep_spacing", "linspace", "leading", "trailing");
        double[] t;
        switch (spacing) {
            case "linspace" -> {
                t = reversed(npLinspace(0, n - 1, steps));
                for (int i = 0; i < t.length; i++) {
                    t[i] = roundLinspace ? Math.rint(t[i]) : (float) t[i];
                }
            }
            case "leading" -> {
                int ratio = n / steps;
                int offset = c.getInt("steps_offset");
                t = new double[steps];
                for (int i = 0; i < steps; i++) {
                    t[i] = (double) (steps - 1 - i) * ratio + offset;
                }
            }
            default -> {
                t = npArange(n, 0, -(double) n / steps);
                for (int i = 0; i < t.length; i++) {
                    t[i] = Math.rint(t[i]) - 1;
                }
            }
        }
        return t;
    }

    /** numpy.interp(x, [0, 1, ..., len-1], fp) in float64. */
    static double interp(double x, float[] fp) {
        int last = fp.length - 1;
        if (x <= 0) {
            return fp[0];
        }
        if (x >= last) {
            return fp[last];
        }
        int j = (int) Math.floor(x);
        double slope = (double) fp[j + 1] - fp[j]; // the grid spacing is 1
        return slope * (x - j) + fp[j];
    }

    /**
     * Karras et al. 2022 ("Elucidating the Design Space..."), eq. 5 with rho = 7:
     * sigma_i = (sigma_max^(1/rho) + i/(n-1) * (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho.
     */
    static double[] karrasSigmas(double sigmaMin, double sigmaMax, int n) {
        double rho = 7.0;
        double[] ramp = npLinspace(0, 1, n);
        double minInvRho = Math.pow(sigmaMin, 1 / rho);
        double maxInvRho = Math.pow(sigmaMax, 1 / rho);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), rho);
        }
        return out;
    }

    /**
     * The (fractional) train timestep whose noise level is sigma: linear interpolation of log sigma
     * between the two neighbouring train timesteps (diffusers' _sigma_to_t, after k-diffusion).
     */
    static double sigmaToT(double sigma, float[] logSigmas) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int low = lowIndex(logSigma, logSigmas);
        int high = low + 1;
        float lo = logSigmas[low];
        float hi = logSigmas[high];
        double w = (lo - logSigma) / (float) (lo - hi);
        w = Math.min(1, Math.max(0, w));
        return (1 - w) * low + w * high;
    }

    /**
     * low of sigmaToT: the last train timestep whose log sigma is <= logSigma, found as diffusers does
     * (the argmax of the running count of such timesteps), clamped to leave an upper neighbour. The
     * comparison is exact in double for float32 inputs too, so both sigmaToT variants share it.
     */
    private static int lowIndex(double logSigma, float[] logSigmas) {
        int count = 0;
        int argmax = 0;
        int best = -1;
        for (int i = 0; i < logSigmas.length; i++) {
            if (logSigma - logSigmas[i] >= 0) {
                count++;
            }
            if (count > best) {
                best = count;
                argmax = i;
            }
        }
        return Math.min(argmax, logSigmas.length - 2);
    }

    /**
     * sigmaToT in float32 throughout, as diffusers computes it for the interpolated sigmas of KDPM2
     * (a float32 tensor against float32 log sigmas).
     */
    static float sigmaToTFloat32(float sigma, float[] logSigmas) {
        float logSigma = (float) Math.log(Math.max(sigma, 1e-10f));
        int low = lowIndex(logSigma, logSigmas);
        int high = low + 1;
        float w = (logSigmas[low] - logSigma) / (logSigmas[low] - logSigmas[high]);
        w = Math.min(1f, Math.max(0f, w));
        return (1f - w) * low + w * high;
    }

    /**
     * The noise level at a (fractional) train timestep t: exp of log sigma interpolated linearly between the
     * two neighbouring train timesteps, which inverts sigmaToT; t is clamped to the train range.
     */
    static double sigmaAtTimestep(double t, float[] alphasCumprod) {
        float[] logSigmas = logOf(trainSigmas(alphasCumprod));
        double c = Math.max(0, Math.min(logSigmas.length - 1, t));
        int low = (int) Math.floor(c);
        double w = c - low;
        if (w == 0) {
            return Math.exp(logSigmas[low]);
        }
        return Math.exp((1 - w) * logSigmas[low] + w * logSigmas[low + 1]);
    }

    /** The largest value. */
    static double max(double[] a) {
        return Arrays.stream(a).max().orElseThrow();
    }
}
