// What a training run reports: DIR/train-log.jsonl (one JSON object per logged step: step, loss and its
// terms, lr, samples_per_s, ...), a loss-curve PNG drawn from it, and a progress line on stderr with the
// smoothed loss, throughput and time left. On resume the log is cut back to the checkpoint's step, so the
// file always describes the run that produced the weights.
package dev.ldm4j.train;

import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.JsonWriter;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class TrainLog {
    private final Path file;
    private final PrintStream progress;
    private final List<double[]> points = new ArrayList<>(); // {step, loss}
    private double smoothed = Double.NaN;

    /** Opens DIR/train-log.jsonl, keeping the records of steps up to keepThroughStep (0 for a new run). */
    public TrainLog(Path dir, long keepThroughStep, PrintStream progress) {
        this.file = dir.resolve("train-log.jsonl");
        this.progress = progress;
        List<String> kept = new ArrayList<>();
        try {
            if (Files.exists(file)) {
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) {
                        continue;
                    }
                    @SuppressWarnings("unchecked")
                    Map<String, Object> record = (Map<String, Object>) Json.parse(line);
                    long step = ((Number) record.get("step")).longValue();
                    if (step <= keepThroughStep) {
                        kept.add(line);
                        points.add(new double[] {step, ((Number) record.get("loss")).doubleValue()});
                    }
                }
            }
            Files.createDirectories(dir);
            Files.writeString(file, kept.isEmpty() ? "" : String.join("\n", kept) + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
    }

    /** Appends one record (it must hold "step" and "loss") and prints the progress line. */
    public void log(Map<String, Object> record, long totalSteps, double secondsLeft) {
        try {
            Files.writeString(file, JsonWriter.line(record) + "\n", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": " + e.getMessage(), e);
        }
        long step = ((Number) record.get("step")).longValue();
        double loss = ((Number) record.get("loss")).doubleValue();
        points.add(new double[] {step, loss});
        smoothed = Double.isNaN(smoothed) ? loss : 0.95 * smoothed + 0.05 * loss;
        if (progress != null) {
            StringBuilder sb = new StringBuilder(String.format("step %d/%d  loss %.5f (smoothed %.5f)", step, totalSteps, loss, smoothed));
            for (Map.Entry<String, Object> e : record.entrySet()) {
                if (!e.getKey().equals("step") && !e.getKey().equals("loss") && e.getValue() instanceof Number n) {
                    sb.append(String.format("  %s %.4g", e.getKey(), n.doubleValue()));
                }
            }
            sb.append(String.format("  ETA %s", eta(secondsLeft)));
            progress.println(sb);
        }
    }

    public static Map<String, Object> record(long step) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("step", step);
        return r;
    }

    private static String eta(double seconds) {
        if (!Double.isFinite(seconds) || seconds < 0) {
            return "?";
        }
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60) : String.format("%dm%02ds", s / 60, s % 60);
    }

    /** The losses logged so far, {step, loss} per record. */
    public List<double[]> points() {
        return List.copyOf(points);
    }

    /** Draws the loss curve (raw points in gray, a moving average in blue, log scale) to png. */
    public void plot(Path png, String title) {
        int w = 640, h = 400, left = 60, right = 20, top = 30, bottom = 40;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setColor(Color.BLACK);
        g.drawString(title, left, 20);
        g.drawRect(left, top, w - left - right, h - top - bottom);
        if (points.size() >= 2) {
            double maxStep = points.get(points.size() - 1)[0], minStep = points.get(0)[0];
            double lo = Double.MAX_VALUE, hi = -Double.MAX_VALUE;
            for (double[] p : points) {
                if (p[1] > 0) {
                    lo = Math.min(lo, Math.log10(p[1]));
                    hi = Math.max(hi, Math.log10(p[1]));
                }
            }
            if (hi - lo < 1e-6) {
                hi = lo + 1;
            }
            double l0 = lo, h0 = hi;
            g.drawString(String.format("%.3g", Math.pow(10, hi)), 2, top + 10);
            g.drawString(String.format("%.3g", Math.pow(10, lo)), 2, h - bottom);
            g.drawString(String.format("step %d", (long) minStep), left, h - 15);
            g.drawString(String.format("step %d", (long) maxStep), w - right - 80, h - 15);
            java.util.function.DoubleUnaryOperator x = s -> left + (s - minStep) / Math.max(1, maxStep - minStep) * (w - left - right);
            java.util.function.DoubleUnaryOperator y = v -> top + (h0 - Math.log10(Math.max(v, 1e-30))) / (h0 - l0) * (h - top - bottom);
            g.setColor(new Color(190, 190, 190));
            for (double[] p : points) {
                g.fillRect((int) x.applyAsDouble(p[0]), (int) y.applyAsDouble(p[1]), 2, 2);
            }
            g.setColor(new Color(40, 90, 220));
            g.setStroke(new BasicStroke(2f));
            int window = Math.max(1, points.size() / 50);
            int px = -1, py = -1;
            for (int i = 0; i < points.size(); i++) {
                double sum = 0;
                int n = 0;
                for (int j = Math.max(0, i - window); j <= Math.min(points.size() - 1, i + window); j++) {
                    sum += points.get(j)[1];
                    n++;
                }
                int cx = (int) x.applyAsDouble(points.get(i)[0]), cy = (int) y.applyAsDouble(sum / n);
                if (px >= 0) {
                    g.drawLine(px, py, cx, cy);
                }
                px = cx;
                py = cy;
            }
        }
        g.dispose();
        Images.writePng(img, png);
    }
}
