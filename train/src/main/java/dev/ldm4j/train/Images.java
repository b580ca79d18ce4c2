// Pictures a training run writes for people to look at: grids of samples or reconstructions, and PNG output.
package dev.ldm4j.train;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

public final class Images {
    private Images() {
    }

    /** A CHW float image in [-1, 1] as 8-bit RGB (round(clamp((x + 1) / 2, 0, 1) * 255), as diffusers converts). */
    public static BufferedImage fromChw(float[] chw, int offset, int height, int width) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int plane = height * width;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int rgb = 0;
                for (int c = 0; c < 3; c++) {
                    double v = (chw[offset + c * plane + y * width + x] + 1) / 2;
                    rgb = rgb << 8 | (int) Math.round(Math.min(Math.max(v, 0), 1) * 255);
                }
                img.setRGB(x, y, rgb);
            }
        }
        return img;
    }

    /** Tiles equally sized images into rows of columns, with a 2-pixel white gutter. */
    public static BufferedImage grid(List<BufferedImage> images, int columns) {
        int w = images.get(0).getWidth(), h = images.get(0).getHeight(), gap = 2;
        int rows = (images.size() + columns - 1) / columns;
        BufferedImage out = new BufferedImage(columns * (w + gap) + gap, rows * (h + gap) + gap, BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = out.createGraphics();
        g.setColor(java.awt.Color.WHITE);
        g.fillRect(0, 0, out.getWidth(), out.getHeight());
        for (int i = 0; i < images.size(); i++) {
            g.drawImage(images.get(i), gap + (i % columns) * (w + gap), gap + (i / columns) * (h + gap), null);
        }
        g.dispose();
        return out;
    }

    public static void writePng(BufferedImage img, Path png) {
        DiffusersFolder.writeAtomically(png, tmp -> {
            if (!ImageIO.write(img, "png", tmp.toFile())) {
                throw new IOException("no PNG writer");
            }
        });
    }
}
