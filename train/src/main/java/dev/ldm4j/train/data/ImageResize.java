// Resizing as the diffusers training scripts do it (torchvision Resize(resolution, BILINEAR) on a PIL
// image, then CenterCrop(resolution)): the short side becomes the resolution, the long side
// int(resolution * long / short), then the centre square is cut out, its offset round((side - res) / 2)
// with Python's half-to-even rounding. The filter is PIL's bilinear with antialiasing: a triangle whose
// support grows with the reduction factor, so a reduction averages over every source pixel instead of
// sampling a few (no aliasing), and an enlargement interpolates linearly between pixel centres.
// Computed in floats with no 8-bit rounding between the two passes (PIL rounds), so values agree with
// PIL within about one level out of 255.
package dev.ldm4j.train.data;

public final class ImageResize {
    private ImageResize() {
    }

    /**
     * Resizes an interleaved image [h, w, channels] so its short side equals {@code resolution}, then
     * crops the centre resolution x resolution square; returns [resolution, resolution, channels].
     */
    public static float[] shortSideAndCenterCrop(float[] hwc, int w, int h, int channels, int resolution) {
        if (resolution <= 0) {
            throw new IllegalArgumentException("resolution must be positive, got " + resolution);
        }
        int outW;
        int outH;
        if (w <= h) {
            outW = resolution;
            outH = (int) ((long) resolution * h / w);
        } else {
            outH = resolution;
            outW = (int) ((long) resolution * w / h);
        }
        float[] resized = (outW == w && outH == h) ? hwc : resize(hwc, w, h, channels, outW, outH);
        int left = (int) Math.rint((outW - resolution) / 2.0);
        int top = (int) Math.rint((outH - resolution) / 2.0);
        float[] out = new float[resolution * resolution * channels];
        for (int y = 0; y < resolution; y++) {
            System.arraycopy(resized, ((top + y) * outW + left) * channels, out, y * resolution * channels, resolution * channels);
        }
        return out;
    }

    /** Resamples an interleaved image [h, w, channels] to [outH, outW, channels]: rows first, then columns. */
    public static float[] resize(float[] hwc, int w, int h, int channels, int outW, int outH) {
        if (w <= 0 || h <= 0 || outW <= 0 || outH <= 0 || channels <= 0) {
            throw new IllegalArgumentException("sizes must be positive: " + w + "x" + h + " -> " + outW + "x" + outH + ", " + channels + " channel(s)");
        }
        if (hwc.length != (long) w * h * channels) {
            throw new IllegalArgumentException("a " + w + "x" + h + " image with " + channels + " channel(s) needs " + (long) w * h * channels + " samples, got " + hwc.length);
        }
        Taps cols = taps(w, outW);
        float[] tmp = new float[h * outW * channels]; // [h, outW, c]
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < outW; x++) {
                int first = cols.first[x];
                double[] k = cols.weights[x];
                for (int c = 0; c < channels; c++) {
                    double sum = 0;
                    for (int t = 0; t < k.length; t++) {
                        sum += k[t] * hwc[(y * w + first + t) * channels + c];
                    }
                    tmp[(y * outW + x) * channels + c] = (float) sum;
                }
            }
        }
        Taps rows = taps(h, outH);
        float[] out = new float[outH * outW * channels]; // [outH, outW, c]
        for (int y = 0; y < outH; y++) {
            int first = rows.first[y];
            double[] k = rows.weights[y];
            for (int x = 0; x < outW; x++) {
                for (int c = 0; c < channels; c++) {
                    double sum = 0;
                    for (int t = 0; t < k.length; t++) {
                        sum += k[t] * tmp[((first + t) * outW + x) * channels + c];
                    }
                    out[(y * outW + x) * channels + c] = (float) sum;
                }
            }
        }
        return out;
    }

    /** For each output position, the first source index and the normalised weights from there on. */
    private record Taps(int[] first, double[][] weights) {
    }

    /**
     * PIL's precompute_coeffs for the bilinear filter (support 1): output i is centred on source
     * coordinate (i + 0.5) * scale; the filter is stretched by max(scale, 1), so on a reduction it
     * covers every source pixel under the output pixel's footprint.
     */
    private static Taps taps(int in, int out) {
        double scale = (double) in / out;
        double stretch = Math.max(scale, 1.0);
        double support = stretch;
        int[] first = new int[out];
        double[][] weights = new double[out][];
        for (int i = 0; i < out; i++) {
            double center = (i + 0.5) * scale;
            int lo = Math.max(0, (int) (center - support + 0.5));
            int hi = Math.min(in, (int) (center + support + 0.5));
            double[] k = new double[hi - lo];
            double total = 0;
            for (int x = lo; x < hi; x++) {
                double t = Math.abs((x - center + 0.5) / stretch);
                k[x - lo] = t < 1 ? 1 - t : 0;
                total += k[x - lo];
            }
            for (int j = 0; j < k.length; j++) {
                k[j] /= total;
            }
            first[i] = lo;
            weights[i] = k;
        }
        return new Taps(first, weights);
    }
}
