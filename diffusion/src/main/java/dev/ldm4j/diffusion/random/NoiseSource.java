// Where samplers and pipelines get their Gaussian noise: a PyTorch-compatible generator in normal
// use, or a replay of recorded draws in tests. Draws happen in the order diffusers makes them.
package dev.ldm4j.diffusion.random;

public interface NoiseSource {
    /** The next standard-normal draw of the given shape, row-major, as torch.randn would return it (float32). */
    float[] randn(int... shape);
}
