// InpaintMask against the rules it copies: PIL's convert("L") on 8-bit RGB (known values: pure red 76,
// green 150, blue 29, white 255), VaeImageProcessor.binarize (0.5 and up repaints), nearest-neighbour
// downsampling as torch.nn.functional.interpolate reads it, and image * (mask < 0.5).
package dev.ldm4j.diffusion.pipeline;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class InpaintMaskTest {
    private static RgbImage pixels(int... rgb) {
        float[] data = new float[rgb.length];
        for (int i = 0; i < rgb.length; i++) {
            data[i] = rgb[i] / 255f;
        }
        return new RgbImage(rgb.length / 3, 1, data);
    }

    @Test
    void rgbIsConvertedAsPilConvertsToLuminanceThenBinarizedAtHalf() {
        // L: red 76, green 150, blue 29, white 255; gray 127 -> 127, gray 128 -> 128; (255, 0, 255) -> 105; (0, 255, 255) -> 179.
        RgbImage img = pixels(255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 127, 127, 127, 128, 128, 128, 255, 0, 255, 0, 255, 255);
        assertArrayEquals(new float[] {0, 1, 0, 1, 0, 1, 0, 1}, InpaintMask.fromRgb(img).values());
    }

    @Test
    void binarizeKeepsBelowHalfAndRepaintsFromHalf() {
        assertArrayEquals(new float[] {0, 0, 1, 1}, InpaintMask.binarize(4, 1, new float[] {0f, 0.49999f, 0.5f, 0.9f}).values());
        assertThrows(IllegalArgumentException.class, () -> new InpaintMask(1, 1, new float[] {0.5f}));
    }

    @Test
    void latentMaskSamplesTheTopLeftPixelOfEachBlock() {
        int w = 16;
        int h = 8;
        float[] v = new float[w * h];
        v[0] = 1;            // block (0, 0): its top-left pixel repaints
        v[8 + 1] = 1;        // block (0, 1): a pixel other than its top-left does not count
        assertArrayEquals(new float[] {1, 0}, new InpaintMask(w, h, v).latent(1, 2));
        float[] all = new float[w * h];
        java.util.Arrays.fill(all, 1f);
        all[8] = 0;          // block (0, 1)'s top-left pixel keeps
        assertArrayEquals(new float[] {1, 0}, new InpaintMask(w, h, all).latent(1, 2));
    }

    @Test
    void maskedImageIsZeroWhereRepainted() {
        InpaintMask m = new InpaintMask(2, 1, new float[] {1, 0});
        assertArrayEquals(new float[] {0f, -0.5f, 0f, 0.25f, 0f, 1f}, m.maskImage(new float[] {0.9f, -0.5f, -1f, 0.25f, 0.3f, 1f}));
    }
}
