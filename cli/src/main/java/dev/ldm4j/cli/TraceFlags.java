// generate --trace DIR: pictures of what happens inside a run, for every sampler.
//  - DIR/x0.png: every step's predicted clean latents x0 (StepListener.onPrediction, the first image of the batch)
//    through a cheap latent-to-RGB projection, one tile per step in order. The projection is an affine map from the
//    latent channels to RGB fitted by least squares to this run's own decoded image (average-pooled to the latent
//    grid): no VAE call per step, and it fits any model's latent space, but it is only a linear approximation of the
//    decoder (colours and coarse layout, no fine detail). With generate --vae an AutoencoderTiny (TAESD) each x0 is
//    decoded by it instead, after the run: the picture TAESD gives, at the cost of one tiny decode per step.
//  - DIR/schedule.png: the sampler's schedule, the noise level sigma (log scale, Scheduler.sigmaAt) and the timestep
//    of each model evaluation.
//  - DIR/attention.png: DAAM's cross-attention heat map of each word of the prompt (Tang et al. 2023;
//    CrossAttentionHeatMaps: every cross-attention layer but the mid block's, averaged over heads, summed over the
//    U-Net evaluations of the conditional rows, upsampled bilinearly to the image, normalised to [0, 1]) laid over the
//    first image, one tile per token with the token under it, in prompt order.
// The trace costs a pass over the latents per step, the attention probabilities of the conditional rows (a second q and
// k projection and a softmax per cross-attention layer) and the pictures at the end; docs/TRACE.md has measurements.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.pipeline.CrossAttentionHeatMaps;
import dev.ldm4j.diffusion.pipeline.RgbImage;
import dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline;
import dev.ldm4j.diffusion.pipeline.StepListener;
import dev.ldm4j.diffusion.schedulers.Scheduler;
import dev.ldm4j.diffusion.tokenizer.ClipEncoding;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.train.Images;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.LUDecomposition;
import picocli.CommandLine.Option;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

final class TraceFlags {
    @Option(names = "--trace", paramLabel = "DIR",
            description = {"Write pictures of the run into DIR: x0.png (each step's predicted x0 through a cheap latent-to-RGB",
                    "projection fitted to the run's image), schedule.png (sigma and timestep per model evaluation) and",
                    "attention.png (each prompt token's cross-attention heat map over the image, DAAM)."})
    Path trace;

    private final List<float[]> predictions = new ArrayList<>();
    private int perImage;
    private CrossAttentionHeatMaps heatMaps;
    private List<String> tokens = List.of();
    private Decoder decoder;

    /** Decodes one image's latents (scaled, as the sampler keeps them) of shape [1, C, h, w] to a picture. */
    @FunctionalInterface
    interface Decoder {
        RgbImage decode(float[] latents, int[] shape);
    }

    /** Draw each step's x0 with decoder (generate --vae with an AutoencoderTiny) instead of the projection. */
    void decodeWith(Decoder d) {
        this.decoder = d;
    }

    /** Checks DIR (made when missing) and that its files may be written; call before the run. */
    void check(boolean overwrite, boolean interpolating) {
        if (trace == null) {
            return;
        }
        if (interpolating) {
            throw new Main.UserError("--trace pictures one run; it cannot be combined with --interpolate");
        }
        try {
            Files.createDirectories(trace);
        } catch (IOException e) {
            throw new Main.UserError("--trace " + trace + ": cannot make the folder (" + e.getMessage() + ")");
        }
        for (String f : List.of("x0.png", "schedule.png", "attention.png")) {
            OutputFiles.checkWritable(trace.resolve(f), "--trace", overwrite);
        }
    }

    /**
     * With --trace, sets pipe to collect the cross-attention heat maps of its next run (of the first image) for the words
     * of prompt (those of its first 77-token chunk); without, leaves it alone.
     */
    void attach(StableDiffusionPipeline pipe, String prompt) {
        if (trace == null) {
            return;
        }
        heatMaps = new CrossAttentionHeatMaps();
        pipe.setCrossAttentionListener(heatMaps);
        ClipEncoding encoding = pipe.tokenizer().encode(prompt);
        int[] ids = encoding.ids();
        List<String> words = new ArrayList<>();
        for (int p = 1; p <= Math.min(encoding.tokenCount(), ClipTokenizer.CONTEXT_LENGTH - 2); p++) {
            words.add(pipe.tokenizer().token(ids[p]).replace("</w>", ""));
        }
        tokens = words;
    }

    /** listener, also keeping each step's predicted x0 of the first image when --trace is given. */
    StepListener listener(StepListener listener, int batch) {
        if (trace == null) {
            return listener;
        }
        return new StepListener() {
            @Override
            public void onStep(int step, int total, double timestep, float[] latents, long nanos) {
                listener.onStep(step, total, timestep, latents, nanos);
            }

            @Override
            public boolean wantsPredictions() {
                return true;
            }

            @Override
            public void onPrediction(int step, int total, double sigma, float[] predictedX0) {
                perImage = predictedX0.length / batch;
                predictions.add(java.util.Arrays.copyOf(predictedX0, perImage));
            }
        };
    }

    /**
     * Writes the pictures: latents are the run's final latents [B, C, h, w], image its first decoded image; scheduler
     * the sampler as the run left it (its schedule set).
     */
    void write(float[] latents, int channels, RgbImage image, Scheduler scheduler, boolean overwrite, java.io.PrintWriter err) {
        if (trace == null) {
            return;
        }
        int hw = perImage / channels;
        int factor = (int) Math.round(Math.sqrt((double) image.width() * image.height() / hw));
        int h = image.height() / factor;
        int w = image.width() / factor;
        List<BufferedImage> tiles = new ArrayList<>();
        if (decoder != null) {
            for (float[] x0 : predictions) {
                tiles.add(picture(decoder.decode(x0, new int[] {1, channels, h, w})));
            }
        } else {
            double[][] map = LatentRgbProjection.fit(java.util.Arrays.copyOf(latents, channels * hw), channels, h, w, image, factor);
            int scale = Math.max(1, 64 / Math.max(h, w));
            for (float[] x0 : predictions) {
                tiles.add(LatentRgbProjection.apply(map, x0, channels, h, w, scale));
            }
        }
        write(Images.grid(tiles, Math.min(tiles.size(), 10)), trace.resolve("x0.png"), overwrite);
        write(schedulePlot(scheduler), trace.resolve("schedule.png"), overwrite);
        err.println("ldm4j: wrote " + trace.resolve("x0.png") + " (" + tiles.size() + " steps" + (decoder != null ? ", decoded by --vae" : "")
                + ") and " + trace.resolve("schedule.png"));
        if (heatMaps != null && heatMaps.mapCount() > 0 && !tokens.isEmpty()) {
            write(attentionGrid(heatMaps, tokens, image), trace.resolve("attention.png"), overwrite);
            err.println("ldm4j: wrote " + trace.resolve("attention.png") + " (" + tokens.size() + " tokens, "
                    + heatMaps.mapCount() + " layer maps)");
        }
    }

    private static BufferedImage picture(RgbImage rgb) {
        BufferedImage img = new BufferedImage(rgb.width(), rgb.height(), BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, rgb.width(), rgb.height(), rgb.toPackedRgb(), 0, rgb.width());
        return img;
    }

    private static void write(BufferedImage img, Path file, boolean overwrite) {
        if (Files.exists(file) && !overwrite) {
            throw new UncheckedIOException(new IOException(file + " appeared during the run; not replaced"));
        }
        Images.writePng(img, file);
    }

    /** Pixels of a tile of the attention grid: the image scaled by a whole factor to at least this on its longer side. */
    static final int MIN_TILE = 128;
    /** Height of the caption strip under each tile. */
    static final int CAPTION = 16;

    /** The tile scale of an image of width x height: the smallest whole factor bringing its longer side to MIN_TILE. */
    static int tileScale(int width, int height) {
        return Math.max(1, (MIN_TILE + Math.max(width, height) - 1) / Math.max(width, height));
    }

    /**
     * One tile per token (token i + 1 of the context is words.get(i)): the image, scaled by tileScale, with the token's
     * heat map (at the image's size) blended over it in a ramp from blue (0) through white to red (1), with alpha 0.2 plus
     * 0.6 times the map's value,
     * the token's text in a caption strip below; up to 8 tiles a row.
     */
    static BufferedImage attentionGrid(CrossAttentionHeatMaps maps, List<String> words, RgbImage image) {
        int w = image.width(), h = image.height(), s = tileScale(w, h);
        List<BufferedImage> tiles = new ArrayList<>();
        for (int i = 0; i < words.size(); i++) {
            float[] m = maps.heatMap(i + 1, w, h);
            BufferedImage tile = new BufferedImage(w * s, h * s + CAPTION, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < h * s; y++) {
                for (int x = 0; x < w * s; x++) {
                    int px = x / s, py = y / s;
                    double v = m[py * w + px];
                    double alpha = 0.2 + 0.6 * v;
                    double[] heat = {Math.min(1, 2 * v), 1 - Math.abs(2 * v - 1), Math.min(1, 2 * (1 - v))};   // red, green, blue
                    int rgb = 0;
                    for (int c = 0; c < 3; c++) {
                        double mixed = (1 - alpha) * image.get(px, py, c) + alpha * heat[c];
                        rgb = rgb << 8 | (int) Math.round(Math.min(Math.max(mixed, 0), 1) * 255);
                    }
                    tile.setRGB(x, y, rgb);
                }
            }
            Graphics2D g = tile.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, h * s, w * s, CAPTION);
            g.setColor(Color.BLACK);
            g.drawString((i + 1) + ": " + words.get(i), 3, h * s + CAPTION - 4);
            g.dispose();
            tiles.add(tile);
        }
        return Images.grid(tiles, Math.min(tiles.size(), 8));
    }

    /** sigma (log scale, blue) and timestep (linear, orange) of each model evaluation, against its index. */
    static BufferedImage schedulePlot(Scheduler s) {
        double[] t = s.timesteps();
        int n = t.length;
        double[] sigma = new double[n];
        for (int i = 0; i < n; i++) {
            sigma[i] = s.sigmaAt(i);
        }
        int width = 640, height = 400, left = 70, right = 70, top = 30, bottom = 40;
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.BLACK);
        boolean infinite = java.util.Arrays.stream(sigma).anyMatch(Double::isInfinite);
        g.drawString(s.name() + ": " + n + " model evaluations" + (infinite ? " (sigma = inf, zero terminal SNR, drawn at the top)" : ""), left, 20);
        g.drawRect(left, top, width - left - right, height - top - bottom);
        double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
        for (double v : sigma) {
            if (v > 0 && Double.isFinite(v)) {
                lo = Math.min(lo, Math.log10(v));
                hi = Math.max(hi, Math.log10(v));
            }
        }
        if (!(hi > lo)) {
            hi = lo + 1;
        }
        double tMax = Math.max(1, s.config().has("num_train_timesteps") ? s.config().getInt("num_train_timesteps") - 1 : 999);
        int plotW = width - left - right, plotH = height - top - bottom;
        g.setColor(new Color(40, 90, 220));
        g.drawString(String.format(Locale.ROOT, "sigma %.3g", Math.pow(10, hi)), 2, top + 10);
        g.drawString(String.format(Locale.ROOT, "sigma %.3g", Math.pow(10, lo)), 2, height - bottom);
        g.setColor(new Color(230, 120, 20));
        g.drawString(String.format(Locale.ROOT, "t %.0f", tMax), width - right + 4, top + 10);
        g.drawString("t 0", width - right + 4, height - bottom);
        g.setColor(Color.BLACK);
        g.drawString("evaluation 1", left, height - 15);
        g.drawString("evaluation " + n, width - right - 90, height - 15);
        g.setStroke(new BasicStroke(2f));
        for (int series = 0; series < 2; series++) {
            g.setColor(series == 0 ? new Color(40, 90, 220) : new Color(230, 120, 20));
            int px = -1, py = -1;
            for (int i = 0; i < n; i++) {
                double f = series == 0
                        ? (sigma[i] > 0 && Double.isFinite(sigma[i]) ? (hi - Math.log10(sigma[i])) / (hi - lo) : sigma[i] > 0 ? 0 : 1)
                        : 1 - t[i] / tMax;
                int cx = left + (n == 1 ? plotW / 2 : i * plotW / (n - 1));
                int cy = top + (int) Math.round(Math.min(Math.max(f, 0), 1) * plotH);
                g.fillOval(cx - 3, cy - 3, 6, 6);
                if (px >= 0) {
                    g.drawLine(px, py, cx, cy);
                }
                px = cx;
                py = cy;
            }
        }
        g.dispose();
        return img;
    }

    /**
     * The cheap latent-to-RGB projection: rgb = M [z; 1] with M [3, C + 1] fitted by least squares (normal equations)
     * to pairs (latent at a cell, the decoded image's mean colour over that cell's factor x factor pixels).
     */
    static final class LatentRgbProjection {
        private LatentRgbProjection() {
        }

        static double[][] fit(float[] latents, int channels, int h, int w, RgbImage image, int factor) {
            int k = channels + 1;
            double[][] ata = new double[k][k];
            double[][] atb = new double[k][3];
            double[] z = new double[k];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    for (int c = 0; c < channels; c++) {
                        z[c] = latents[(c * h + y) * w + x];
                    }
                    z[channels] = 1;
                    double[] rgb = new double[3];
                    for (int dy = 0; dy < factor; dy++) {
                        for (int dx = 0; dx < factor; dx++) {
                            for (int c = 0; c < 3; c++) {
                                rgb[c] += image.get(x * factor + dx, y * factor + dy, c) / (factor * factor);
                            }
                        }
                    }
                    for (int a = 0; a < k; a++) {
                        for (int b = 0; b < k; b++) {
                            ata[a][b] += z[a] * z[b];
                        }
                        for (int c = 0; c < 3; c++) {
                            atb[a][c] += z[a] * rgb[c];
                        }
                    }
                }
            }
            for (int a = 0; a < k; a++) {
                ata[a][a] += 1e-6;                 // a flat image leaves channels undetermined: ridge them to 0
            }
            return new LUDecomposition(new Array2DRowRealMatrix(ata, false)).getSolver().solve(new Array2DRowRealMatrix(atb, false)).getData();
        }

        /** x0 [C, h, w] through the map, each cell a scale x scale block of pixels. */
        static BufferedImage apply(double[][] map, float[] x0, int channels, int h, int w, int scale) {
            BufferedImage img = new BufferedImage(w * scale, h * scale, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int rgb = 0;
                    for (int c = 0; c < 3; c++) {
                        double v = map[channels][c];
                        for (int ch = 0; ch < channels; ch++) {
                            v += map[ch][c] * x0[(ch * h + y) * w + x];
                        }
                        v = Double.isFinite(v) ? v : 0;
                        rgb = rgb << 8 | (int) Math.round(Math.min(Math.max(v, 0), 1) * 255);
                    }
                    for (int dy = 0; dy < scale; dy++) {
                        for (int dx = 0; dx < scale; dx++) {
                            img.setRGB(x * scale + dx, y * scale + dy, rgb);
                        }
                    }
                }
            }
            return img;
        }
    }
}
