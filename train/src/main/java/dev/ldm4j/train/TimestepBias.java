// Which training timesteps a noise-regression step draws: uniformly (Ho et al. 2020), or with one part of
// the range drawn more often, as diffusers' SDXL training script does (generate_timestep_weights,
// --timestep_bias_strategy): every timestep weighs 1, the biased ones weigh `multiplier`, and t is drawn
// from the normalized weights. "later" biases the last `portion` of the timesteps (the noisiest), "earlier"
// the first. The noisiest steps are where the text must decide the layout: there the noisy latent no
// longer shows where anything is.
package dev.ldm4j.train;

import java.util.SplittableRandom;

public record TimestepBias(String strategy, double portion, double multiplier) {
    public static final TimestepBias NONE = new TimestepBias("none", 0, 1);

    public TimestepBias {
        if (!strategy.equals("none") && !strategy.equals("later") && !strategy.equals("earlier")) {
            throw new IllegalArgumentException("timestep bias strategy must be none, later or earlier, got '" + strategy + "'");
        }
        if (!(portion >= 0 && portion <= 1)) {
            throw new IllegalArgumentException("timestep bias portion must be in [0, 1], got " + portion);
        }
        if (!(multiplier > 0) || Double.isInfinite(multiplier)) {
            throw new IllegalArgumentException("timestep bias multiplier must be a positive number, got " + multiplier);
        }
    }

    /** The probability of each of the n timesteps (sums to 1). */
    public double[] weights(int n) {
        double[] w = new double[n];
        java.util.Arrays.fill(w, 1.0);
        int biased = (int) (portion * n);
        if (!strategy.equals("none")) {
            int from = strategy.equals("later") ? n - biased : 0;
            for (int t = from; t < from + biased; t++) {
                w[t] *= multiplier;
            }
        }
        double sum = 0;
        for (double v : w) {
            sum += v;
        }
        for (int t = 0; t < n; t++) {
            w[t] /= sum;
        }
        return w;
    }

    /** A drawing function over n timesteps: uniform nextInt(n) without a bias, else the inverse of the weights' CDF. */
    public Sampler sampler(int n) {
        if (strategy.equals("none") || multiplier == 1 || (int) (portion * n) == 0) {
            return random -> random.nextInt(n);
        }
        double[] cdf = weights(n);
        for (int t = 1; t < n; t++) {
            cdf[t] += cdf[t - 1];
        }
        return random -> {
            double u = random.nextDouble() * cdf[n - 1];
            int lo = 0, hi = n - 1;
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (cdf[mid] > u) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            return lo;
        };
    }

    /** Draws one training timestep. */
    @FunctionalInterface
    public interface Sampler {
        int draw(SplittableRandom random);
    }
}
