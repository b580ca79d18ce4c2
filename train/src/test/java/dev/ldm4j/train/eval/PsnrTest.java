// PSNR = 10 log10(255^2 / MSE) on 8-bit samples, checked on errors of known size.
package dev.ldm4j.train.eval;

import dev.ldm4j.train.data.Rgb8Image;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class PsnrTest {
    @Test
    void knownErrorsGiveKnownDecibels() {
        byte[] a = new byte[4 * 4 * 3];
        byte[] b = new byte[a.length];
        assertEquals(Double.POSITIVE_INFINITY, Psnr.of(a, b));
        Arrays.fill(b, (byte) 1);
        assertEquals(20 * Math.log10(255), Psnr.of(a, b), 1e-12, "MSE 1: 48.13 dB");
        Arrays.fill(b, (byte) 255);
        assertEquals(0.0, Psnr.of(new Rgb8Image(4, 4, a), new Rgb8Image(4, 4, b)), 1e-12, "MSE 255^2: 0 dB (bytes unsigned)");
        // Half the samples off by 10: MSE 50.
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i % 2 == 0 ? 10 : 0);
        }
        assertEquals(10 * Math.log10(255.0 * 255.0 / 50), Psnr.of(a, b), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> Psnr.of(new Rgb8Image(4, 4, a), new Rgb8Image(2, 8, b)));
    }
}
