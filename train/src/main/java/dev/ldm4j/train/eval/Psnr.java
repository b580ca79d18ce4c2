// Peak signal-to-noise ratio of two 8-bit images, for the VAE's reconstructions:
// PSNR = 10 log10(255^2 / MSE) dB, the mean squared error taken over every sample of every channel.
package dev.ldm4j.train.eval;

import dev.ldm4j.train.data.Rgb8Image;

public final class Psnr {
    private Psnr() {
    }

    /** PSNR in dB; +Infinity for identical images. */
    public static double of(Rgb8Image a, Rgb8Image b) {
        if (a.width() != b.width() || a.height() != b.height()) {
            throw new IllegalArgumentException("PSNR of images of different sizes: " + a.width() + "x" + a.height() + " and " + b.width() + "x" + b.height());
        }
        return of(a.rgb(), b.rgb());
    }

    /** PSNR in dB of two equally long arrays of 8-bit samples (unsigned); +Infinity when equal. */
    public static double of(byte[] a, byte[] b) {
        if (a.length != b.length || a.length == 0) {
            throw new IllegalArgumentException("PSNR needs two non-empty arrays of one length, got " + a.length + " and " + b.length);
        }
        long sum = 0;
        for (int i = 0; i < a.length; i++) {
            int d = (a[i] & 0xff) - (b[i] & 0xff);
            sum += (long) d * d;
        }
        return fromMse(sum / (double) a.length);
    }

    /** 10 log10(255^2 / mse). */
    public static double fromMse(double mse) {
        return mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(255.0 * 255.0 / mse);
    }
}
