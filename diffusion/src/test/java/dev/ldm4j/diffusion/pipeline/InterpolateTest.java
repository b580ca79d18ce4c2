// Resizing as torch.nn.functional.interpolate(align_corners=False): PyTorch's outputs for [[1, 2], [3, 4]] upscaled
// to 4x4 (bilinear, bicubic, nearest), a constant stays constant, and a linear ramp stays linear inside.
package dev.ldm4j.diffusion.pipeline;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class InterpolateTest {
    private static final float[] X = {1, 2, 3, 4};                                            // [1, 2, 2]

    @Test
    void bilinearGivesPytorchsValues() {
        float[] want = {
                1.00f, 1.25f, 1.75f, 2.00f,
                1.50f, 1.75f, 2.25f, 2.50f,
                2.50f, 2.75f, 3.25f, 3.50f,
                3.00f, 3.25f, 3.75f, 4.00f};
        assertArrayEquals(want, Interpolate.bilinear(X, 1, 2, 2, 4, 4), 1e-6f);
    }

    @Test
    void bicubicGivesPytorchsValuesWithTheOvershootOfAMinus075() {
        float[] want = {
                0.68359375f, 1.015625f, 1.5625f, 1.89453125f,
                1.34765625f, 1.6796875f, 2.2265625f, 2.55859375f,
                2.44140625f, 2.7734375f, 3.3203125f, 3.65234375f,
                3.10546875f, 3.4375f, 3.984375f, 4.31640625f};
        assertArrayEquals(want, Interpolate.bicubic(X, 1, 2, 2, 4, 4), 1e-6f);
    }

    @Test
    void nearestRepeatsEachSample() {
        float[] want = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
        assertArrayEquals(want, Interpolate.nearest(X, 1, 2, 2, 4, 4), 0f);
        assertArrayEquals(new float[] {1, 1, 2}, Interpolate.nearest(new float[] {1, 2}, 1, 1, 2, 1, 3), 0f); // floor(dst * 2/3)
    }

    @Test
    void aConstantStaysConstantAndARampStaysLinearInside() {
        int h = 5, w = 7, oh = 11, ow = 16;
        float[] c = new float[2 * h * w];
        java.util.Arrays.fill(c, 0.375f);
        for (float[] out : new float[][] {Interpolate.bilinear(c, 2, h, w, oh, ow), Interpolate.bicubic(c, 2, h, w, oh, ow),
                Interpolate.nearest(c, 2, h, w, oh, ow)}) {
            for (float v : out) {
                assertEquals(0.375f, v, 1e-6f);
            }
        }
        float[] ramp = new float[h * w];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                ramp[y * w + x] = x;
            }
        }
        float[] up = Interpolate.bilinear(ramp, 1, h, w, oh, ow);
        float scale = (float) w / ow;
        for (int x = 3; x < ow - 3; x++) {
            assertEquals(scale * (x + 0.5f) - 0.5f, up[4 * ow + x], 1e-5f, "column " + x);
        }
    }
}
