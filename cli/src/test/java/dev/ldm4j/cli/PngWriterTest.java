// PngWriter's files decode, through the JDK's own PNG reader (ImageIO), to exactly the pixels written:
// odd sizes, one pixel, smooth gradients and noise (every Paeth case), and files refused for bad sizes.
package dev.ldm4j.cli;

import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PngWriterTest {
    private static void roundTrip(byte[] rgb, int w, int h) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PngWriter.write(rgb, w, h, out);
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(out.toByteArray()));
        assertNotNull(img, "ImageIO reads the file");
        assertEquals(w, img.getWidth());
        assertEquals(h, img.getHeight());
        assertEquals(3, img.getColorModel().getNumComponents(), "RGB, no alpha");
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int at = (y * w + x) * 3;
                int want = (rgb[at] & 0xff) << 16 | (rgb[at + 1] & 0xff) << 8 | (rgb[at + 2] & 0xff);
                assertEquals(want, img.getRGB(x, y) & 0xffffff, "pixel " + x + "," + y);
            }
        }
    }

    @Test
    void noiseAtOddSizesDecodesToTheSamePixels() throws IOException {
        Random r = new Random(5);
        for (int[] size : new int[][] {{1, 1}, {7, 3}, {3, 7}, {64, 48}}) {
            byte[] rgb = new byte[size[0] * size[1] * 3];
            r.nextBytes(rgb);
            roundTrip(rgb, size[0], size[1]);
        }
    }

    @Test
    void gradientsDecodeToTheSamePixels() throws IOException {
        int w = 96, h = 80;
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int at = (y * w + x) * 3;
                rgb[at] = (byte) (x * 255 / (w - 1));
                rgb[at + 1] = (byte) (y * 255 / (h - 1));
                rgb[at + 2] = (byte) ((x * y) & 0xff);
            }
        }
        roundTrip(rgb, w, h);
    }

    @Test
    void paethPicksTheNearestNeighbourWithTiesInOrder() {
        assertEquals(10, PngWriter.paeth(10, 10, 10));
        assertEquals(50, PngWriter.paeth(50, 10, 10), "p = 50: left");
        assertEquals(50, PngWriter.paeth(10, 50, 10), "p = 50: up");
        assertEquals(40, PngWriter.paeth(40, 30, 20), "p = 50: distances 10, 20, 30");
        assertEquals(25, PngWriter.paeth(20, 30, 25), "p = 25: upper-left is exact");
        assertEquals(8, PngWriter.paeth(7, 9, 8), "p = 8: upper-left is exact, left and up are 1 away");
        assertEquals(7, PngWriter.paeth(7, 200, 210), "p = -3: left is nearest");
    }

    @Test
    void aBufferOfTheWrongSizeIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> PngWriter.write(new byte[5], 1, 2, new ByteArrayOutputStream()));
        assertThrows(IllegalArgumentException.class, () -> PngWriter.write(new byte[0], 0, 0, new ByteArrayOutputStream()));
    }
}
