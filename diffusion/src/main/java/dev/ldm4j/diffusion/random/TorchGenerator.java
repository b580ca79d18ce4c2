// torch.Generator("cpu").manual_seed(seed) followed by torch.randn(shape), reproduced bit for bit
// in float32, so a seed gives the same image here as in diffusers. PyTorch's CPU generator is a
// 32-bit Mersenne Twister; torch.randn draws float32 normals two ways, by tensor size:
//  - 16 or more values: fill the tensor with 24-bit uniforms, then Box-Muller on blocks of 16
//    (pairs i and i+8 of each block), recomputing the last 16 from fresh uniforms when the size is
//    not a multiple of 16 (aten/src/ATen/native/cpu/DistributionTemplates.h, normal_fill);
//  - fewer than 16: one double-precision Box-Muller normal per value from two 53-bit uniforms,
//    keeping the second (sine) value of each pair in the generator for the next call
//    (aten/src/ATen/core/DistributionsHelper.h, normal_distribution<double>).
// The float32 block path follows PyTorch's x86-64 AVX2 kernel (the one its CPU wheels run on AVX2
// machines), whose log/sin/cos are Cephes float polynomials (CephesFloatMath), not libm. A float64
// randn (what a pipeline run in float64 draws) uses the same block scheme with 53-bit uniforms and
// double-precision libm math; its values are rounded to float32 here.
// Checked bit for bit against randn.safetensors and the pipeline fixtures' recorded draws.
// state() and restore(State) copy the complete state out and back (as torch's get_state and
// set_state do), so a training run that resumes from a checkpoint draws the same stream.
package dev.ldm4j.diffusion.random;

import java.util.Arrays;

public final class TorchGenerator implements NoiseSource {
    private static final float TWO_PI_F = (float) (2.0 * Math.PI);

    /** The dtype torch.randn is asked for: the values differ, since each dtype has its own kernel. */
    public enum Precision { FLOAT32, FLOAT64 }

    private final Mt19937 engine;
    private final Precision precision;
    private final float[] sincos = new float[2];
    private boolean hasCachedNormal;
    private double cachedNormal;

    /** As torch.Generator("cpu").manual_seed(seed), drawing as torch.randn(..., dtype=torch.float32). */
    public TorchGenerator(long seed) {
        this(seed, Precision.FLOAT32);
    }

    /**
     * As torch.Generator("cpu").manual_seed(seed), drawing as torch.randn(..., dtype) with the
     * result rounded to float32 (FLOAT64 is what a pipeline run in float64 draws).
     */
    public TorchGenerator(long seed, Precision precision) {
        this(new Mt19937(seed), precision);
    }

    private TorchGenerator(Mt19937 engine, Precision precision) {
        this.engine = engine;
        this.precision = precision;
    }

    /**
     * Everything this generator's future draws depend on: the Mersenne Twister's 624 state words
     * and read position (0..624), the cached sine half of the last double-precision Box-Muller
     * pair, and the precision draws are made in. Immutable; the words are copied in and out.
     */
    public record State(Precision precision, int[] words, int position, boolean hasCachedNormal, double cachedNormal) {
        public State {
            if (precision == null) {
                throw new IllegalArgumentException("generator state has no precision");
            }
            words = words.clone();
            new Mt19937(words, position); // validates the word count and the position
        }

        @Override
        public int[] words() {
            return words.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof State s && s.precision == precision && Arrays.equals(s.words, words) && s.position == position
                    && s.hasCachedNormal == hasCachedNormal
                    && Double.doubleToRawLongBits(s.cachedNormal) == Double.doubleToRawLongBits(cachedNormal);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(words) * 31 + position;
        }

        @Override
        public String toString() {
            return "TorchGenerator.State[" + precision + ", position " + position + (hasCachedNormal ? ", cached normal " + cachedNormal : "") + "]";
        }
    }

    /** A snapshot of the complete state; restore(state()) draws exactly what this generator will. */
    public State state() {
        return new State(precision, engine.words(), engine.position(), hasCachedNormal, hasCachedNormal ? cachedNormal : 0.0);
    }

    /** A generator that continues exactly where the one that gave state was when it was taken. */
    public static TorchGenerator restore(State state) {
        TorchGenerator g = new TorchGenerator(new Mt19937(state.words, state.position), state.precision);
        g.hasCachedNormal = state.hasCachedNormal;
        g.cachedNormal = state.cachedNormal;
        return g;
    }

    @Override
    public float[] randn(int... shape) {
        long count = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in randn shape " + Arrays.toString(shape));
            }
            count *= d;
        }
        if (count > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("randn shape " + Arrays.toString(shape) + " is too large");
        }
        float[] out = new float[(int) count];
        if (out.length >= 16 && precision == Precision.FLOAT32) {
            normalFill(out);
        } else if (out.length >= 16) {
            double[] wide = new double[out.length];
            normalFillDouble(wide);
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) wide[i];
            }
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) nextNormalDouble();
            }
        }
        return out;
    }

    /** A uniform float in [0, 1) from the low 24 bits of one 32-bit draw. */
    float nextUniformFloat() {
        return (engine.nextInt() & 0xffffff) * 0x1.0p-24f;
    }

    /** A uniform double in [0, 1) from the low 53 bits of a 64-bit draw (first 32-bit draw is the high word). */
    double nextUniformDouble() {
        long hi = engine.nextInt() & 0xffffffffL;
        long lo = engine.nextInt() & 0xffffffffL;
        long bits = (hi << 32) | lo;
        return (bits & ((1L << 53) - 1)) * 0x1.0p-53;
    }

    /** One standard normal in double precision: Box-Muller, the sine half cached for the next call. */
    double nextNormalDouble() {
        if (hasCachedNormal) {
            hasCachedNormal = false;
            return cachedNormal;
        }
        double u1 = nextUniformDouble();
        double u2 = nextUniformDouble();
        double r = Math.sqrt(-2.0 * Math.log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * Math.sin(theta);
        hasCachedNormal = true;
        return r * Math.cos(theta);
    }

    private void normalFill(float[] data) {
        int n = data.length;
        for (int i = 0; i < n; i++) {
            data[i] = nextUniformFloat();
        }
        for (int i = 0; i + 16 <= n; i += 16) {
            boxMuller16(data, i);
        }
        if (n % 16 != 0) {
            int start = n - 16; // the last 16 values are drawn again and transformed once more
            for (int i = 0; i < 16; i++) {
                data[start + i] = nextUniformFloat();
            }
            boxMuller16(data, start);
        }
    }

    /** The same block scheme in double precision (PyTorch's scalar normal_fill<double>, libm math). */
    private void normalFillDouble(double[] data) {
        int n = data.length;
        for (int i = 0; i < n; i++) {
            data[i] = nextUniformDouble();
        }
        for (int i = 0; i + 16 <= n; i += 16) {
            boxMuller16(data, i);
        }
        if (n % 16 != 0) {
            int start = n - 16;
            for (int i = 0; i < 16; i++) {
                data[start + i] = nextUniformDouble();
            }
            boxMuller16(data, start);
        }
    }

    private static void boxMuller16(double[] data, int at) {
        for (int j = 0; j < 8; j++) {
            double u1 = 1.0 - data[at + j];
            double u2 = data[at + j + 8];
            double radius = Math.sqrt(-2.0 * Math.log(u1));
            double theta = 2.0 * Math.PI * u2;
            data[at + j] = radius * Math.cos(theta);
            data[at + j + 8] = radius * Math.sin(theta);
        }
    }

    /** Box-Muller in place on data[at..at+16): u1 = 1 - data[j], u2 = data[j+8] for j in 0..7. */
    private void boxMuller16(float[] data, int at) {
        for (int j = 0; j < 8; j++) {
            float u1 = 1f - data[at + j]; // [0, 1) -> (0, 1] for the log
            float u2 = data[at + j + 8];
            float radius = (float) Math.sqrt(-2f * CephesFloatMath.log(u1)); // float sqrt is exact via double
            CephesFloatMath.sincos(TWO_PI_F * u2, sincos);
            data[at + j] = radius * sincos[1];
            data[at + j + 8] = radius * sincos[0];
        }
    }
}
