// PNG and JPEG into the pipeline's RgbImage (float [H, W, 3] in [0, 1]) or InpaintMask, through ImageIO (the desktop
// module); writing is PngFiles's, which needs only java.base.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.pipeline.InpaintMask;
import dev.ldm4j.diffusion.pipeline.RgbImage;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;

final class Images {
    private Images() {
    }

    /** Reads an RGB image (8 bits per channel, no alpha) into [0, 1] floats; one-line errors otherwise. */
    static RgbImage readRgb(Path file) {
        BufferedImage img = decode(file);
        var cm = img.getColorModel();
        if (cm.getNumColorComponents() != 3 || cm.getColorSpace().getType() != java.awt.color.ColorSpace.TYPE_RGB) {
            throw new Main.UserError(file + ": not an RGB image (" + cm.getNumColorComponents() + " colour channel(s)); convert it to RGB first");
        }
        if (cm.hasAlpha()) {
            throw new Main.UserError(file + ": the image has an alpha channel; flatten it to RGB first");
        }
        return rgb(img);
    }

    /**
     * Reads an inpainting mask: an 8-bit grayscale image (its levels as they are) or an RGB one (converted to gray as
     * PIL's convert("L")), binarized at level 128 (InpaintMask); one-line errors for anything else.
     */
    static InpaintMask readMask(Path file) {
        BufferedImage img = decode(file);
        var cm = img.getColorModel();
        if (cm.hasAlpha()) {
            throw new Main.UserError(file + ": the mask has an alpha channel; flatten it to grayscale (white = repaint) first");
        }
        boolean gray = cm.getNumColorComponents() == 1 && cm.getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_GRAY;
        boolean rgb = cm.getNumColorComponents() == 3 && cm.getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_RGB;
        if (!gray && !rgb || gray && cm.getComponentSize(0) != 8) {
            throw new Main.UserError(file + ": a mask must be 8-bit grayscale or RGB (" + cm.getNumColorComponents() + " colour channel(s) of "
                    + cm.getComponentSize(0) + " bits); convert it to 8-bit grayscale, white = repaint");
        }
        if (rgb) {
            return InpaintMask.fromRgb(rgb(img));
        }
        int w = img.getWidth();
        int h = img.getHeight();
        float[] levels = new float[w * h];
        var raster = img.getRaster();                      // the stored levels: getRGB would convert linear gray to sRGB
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                levels[y * w + x] = raster.getSample(x, y, 0) / 255f;
            }
        }
        return InpaintMask.binarize(w, h, levels);
    }

    /** The file decoded by ImageIO, after checks on the file and on the size in its header; one-line errors. */
    private static BufferedImage decode(Path file) {
        if (!Files.exists(file)) {
            throw new Main.UserError(file + ": no such file");
        }
        if (Files.isDirectory(file)) {
            throw new Main.UserError(file + " is a folder; give an image file (PNG or JPEG)");
        }
        if (!Files.isRegularFile(file)) {
            throw new Main.UserError(file + ": not a regular file (a device, pipe or socket); give an image file (PNG or JPEG)");
        }
        BufferedImage img;
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) {
                throw new Main.UserError(file + ": not an image this build can read (use PNG or JPEG)");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                checkSize(file, reader.getWidth(0), reader.getHeight(0)); // from the header, before decoding
                img = reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            if (e instanceof Main.UserError u) {
                throw u;
            }
            throw new Main.UserError(file + ": cannot read the image: " + decodingProblem(e));
        }
        return img;
    }

    private static RgbImage rgb(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        float[] data = new float[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y);
                int at = (y * w + x) * 3;
                data[at] = ((rgb >> 16) & 0xff) / 255f;
                data[at + 1] = ((rgb >> 8) & 0xff) / 255f;
                data[at + 2] = (rgb & 0xff) / 255f;
            }
        }
        return new RgbImage(w, h, data);
    }

    /**
     * Refuses, from the header alone, sides that are not multiples of 8 and an image whose decoding
     * (3 bytes a pixel) and float copy (12 bytes a pixel) would not fit in the Java heap.
     */
    private static void checkSize(Path file, int w, int h) {
        if (w % 8 != 0 || h % 8 != 0) {
            throw new Main.UserError(file + ": the image is " + w + "x" + h + "; its sides must be multiples of 8");
        }
        long pixels = (long) w * h;
        long need = pixels * 15;
        long have = Runtime.getRuntime().maxMemory();
        if (pixels * 3 > Integer.MAX_VALUE - 8 || need > have) {
            throw new Main.UserError(String.format(Locale.ROOT,
                    "%s: the image is %dx%d; reading it needs about %.1f GB of Java heap and this run has %.1f GB"
                            + " (scale it down, or raise LDM4J_HEAP)", file, w, h, need / 1e9, have / 1e9));
        }
    }

    /** What went wrong inside ImageIO, in words: its own messages wrap the cause ("Caught exception during read:"). */
    private static String decodingProblem(Throwable e) {
        Throwable deepest = e;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof OutOfMemoryError) {
                return "out of Java heap memory while decoding; scale the image down or raise LDM4J_HEAP";
            }
            deepest = t;
        }
        if (deepest instanceof java.io.EOFException) {
            return "the file ends before the image data does (truncated?)";
        }
        String m = deepest.getMessage();
        return m == null || m.isBlank() ? "damaged image data" : "damaged image data (" + Main.oneLine(m) + ")";
    }
}
