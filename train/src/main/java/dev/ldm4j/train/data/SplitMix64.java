// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014;
// the constants of Vigna's reference code): the generator behind every random choice of the shapes
// dataset. A stream keyed by (seed, index) makes sample i of seed s the same whatever was drawn before.
package dev.ldm4j.train.data;

public final class SplitMix64 {
    /** The golden-ratio increment, 2^64 / phi, odd. */
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    private long state;

    public SplitMix64(long seed) {
        this.state = seed;
    }

    /** The stream of sample {@code index} under {@code seed}: state = mix(mix(seed) ^ index * gamma). */
    public static SplitMix64 forIndex(long seed, long index) {
        return new SplitMix64(mix(mix(seed) ^ (index * GOLDEN_GAMMA)));
    }

    /** Vigna's finaliser (a variant of MurmurHash3's fmix64): a bijection that scrambles every bit. */
    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public long nextLong() {
        state += GOLDEN_GAMMA;
        return mix(state);
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Uniform in [0, bound) by multiply-shift on the top 32 bits (bias below bound / 2^32). */
    public int nextInt(int bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("bound must be positive, got " + bound);
        }
        return (int) (((nextLong() >>> 32) * bound) >>> 32);
    }

    /** Uniform in [lo, hi). */
    public double uniform(double lo, double hi) {
        return lo + (hi - lo) * nextDouble();
    }

    /** True with probability p. */
    public boolean chance(double p) {
        return nextDouble() < p;
    }
}
