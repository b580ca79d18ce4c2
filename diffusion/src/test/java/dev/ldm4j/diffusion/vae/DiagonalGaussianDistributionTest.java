// DiagonalGaussianDistribution.sample is mean + exp(logvar / 2) * noise, elementwise (checked on
// hand-picked values: logvar 0 gives std 1, logvar 2 ln 3 gives std 3).
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

class DiagonalGaussianDistributionTest {
    @Test
    void sampleIsMeanPlusStdTimesNoise() {
        try (Backend backend = Backends.create("cpu")) {
            Tensor mean = Tensor.of(new float[] {1f, -2f, 0.5f, 0f}, 1, 1, 2, 2);
            Tensor logvar = Tensor.of(new float[] {0f, (float) (2 * Math.log(3)), -30f, 0f}, 1, 1, 2, 2);
            Tensor noise = Tensor.of(new float[] {0.5f, 1f, 1f, -1f}, 1, 1, 2, 2);
            var posterior = new DiagonalGaussianDistribution(mean, logvar);
            float[] z = backend.toHost(posterior.sample(backend, noise)).toFloatArray();
            assertArrayEquals(new float[] {1.5f, 1f, 0.5f + (float) Math.exp(-15), -1f}, z, 1e-6f);
            assertArrayEquals(mean.toFloatArray(), posterior.mode().toFloatArray());
        }
    }
}
