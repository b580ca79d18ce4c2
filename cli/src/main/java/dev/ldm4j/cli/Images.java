// PNG and JPEG into the pipeline's RgbImage (float [H, W, 3] in [0, 1]), through ImageIO (the desktop
// module); writing is PngFiles's, which needs only java.base.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.pipeline.RgbImage;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

final class Images {
    private Images() {
    }

    /** Reads an RGB image (8 bits per channel, no alpha) into [0, 1] floats; one-line errors otherwise. */
    static RgbImage readRgb(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new Main.UserError(file + ": no such image file");
        }
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new Main.UserError(file + ": cannot read the image: " + Main.oneLine(e.getMessage()));
        }
        if (img == null) {
            throw new Main.UserError(file + ": not an image this build can read (use PNG or JPEG)");
        }
        var cm = img.getColorModel();
        if (cm.getNumColorComponents() != 3 || cm.getColorSpace().getType() != java.awt.color.ColorSpace.TYPE_RGB) {
            throw new Main.UserError(file + ": not an RGB image (" + cm.getNumColorComponents() + " colour channel(s)); convert it to RGB first");
        }
        if (cm.hasAlpha()) {
            throw new Main.UserError(file + ": the image has an alpha channel; flatten it to RGB first");
        }
        int w = img.getWidth();
        int h = img.getHeight();
        if (w % 8 != 0 || h % 8 != 0) {
            throw new Main.UserError(file + ": the image is " + w + "x" + h + "; its sides must be multiples of 8");
        }
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
}
