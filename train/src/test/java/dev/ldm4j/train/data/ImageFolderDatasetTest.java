// The image-folder dataset: both caption layouts (metadata.jsonl, .txt beside the image), PNG and
// JPEG, grey and alpha images, the short-side resize and centre crop (a ramp lands where it should; a
// one-pixel checkerboard reduces to flat grey, no aliasing), and a one-line error naming the file for
// each kind of bad input.
package dev.ldm4j.train.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.IntBinaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageFolderDatasetTest {
    @TempDir
    Path dir;

    private static void png(Path file, int w, int h, IntBinaryOperator rgbAt) throws IOException {
        write(file, w, h, BufferedImage.TYPE_INT_RGB, rgbAt, "png");
    }

    private static void write(Path file, int w, int h, int type, IntBinaryOperator rgbAt, String format) throws IOException {
        Files.createDirectories(file.getParent());
        BufferedImage img = new BufferedImage(w, h, type);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, rgbAt.applyAsInt(x, y));
            }
        }
        assertTrue(ImageIO.write(img, format, file.toFile()), "wrote " + file);
    }

    private static int rgb(int r, int g, int b) {
        return r << 16 | g << 8 | b;
    }

    private static float at(CaptionedImage ci, int c, int x, int y) {
        return ci.chw()[(c * ci.height() + y) * ci.width() + x];
    }

    private void text(String name, String content) throws IOException {
        Files.createDirectories(dir.resolve(name).getParent());
        Files.writeString(dir.resolve(name), content, StandardCharsets.UTF_8);
    }

    @Test
    void metadataJsonlGivesCaptionsInPathOrder() throws IOException {
        png(dir.resolve("b.png"), 20, 20, (x, y) -> rgb(255, 0, 0));
        png(dir.resolve("sub/a.png"), 30, 20, (x, y) -> rgb(0, 51, 255));
        text("metadata.jsonl", "{\"file_name\": \"sub/a.png\", \"text\": \"a blue thing\"}\n\n"
                + "{\"file_name\": \"b.png\", \"text\": \" a red thing \", \"extra\": 1}\n");
        ImageFolderDataset ds = ImageFolderDataset.open(dir, 8);
        assertEquals(2, ds.size());
        assertEquals(List.of("a red thing", "a blue thing"), ds.entries().stream().map(ImageFolderDataset.Entry::caption).toList());
        CaptionedImage red = ds.get(0);
        CaptionedImage blue = ds.get(1);
        assertEquals("a red thing", red.caption());
        assertEquals(8, blue.width());
        assertEquals(8, blue.height());
        // A flat image stays flat through the resize: exact values, pixel / 127.5 - 1.
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                assertEquals(1f, at(red, 0, x, y), 1e-6);
                assertEquals(-1f, at(red, 1, x, y), 1e-6);
                assertEquals(51 / 127.5f - 1f, at(blue, 1, x, y), 1e-6);
                assertEquals(1f, at(blue, 2, x, y), 1e-6);
            }
        }
    }

    @Test
    void textFileBesideEachImageIsItsCaption() throws IOException {
        png(dir.resolve("one.png"), 16, 16, (x, y) -> rgb(10, 20, 30));
        write(dir.resolve("deep/two.JPG"), 16, 16, BufferedImage.TYPE_INT_RGB, (x, y) -> rgb(200, 100, 50), "jpg");
        text("one.txt", "\uFEFFa dark square\n");
        text("deep/two.txt", "an orange square");
        png(dir.resolve(".cache/ignored.png"), 4, 4, (x, y) -> 0);
        ImageFolderDataset ds = ImageFolderDataset.open(dir, 16);
        assertEquals(2, ds.size());
        assertEquals("an orange square", ds.get(0).caption(), "deep/two.JPG sorts before one.png");
        assertEquals("a dark square", ds.get(1).caption());
        CaptionedImage jpeg = ds.get(0);
        assertEquals(200 / 127.5f - 1f, at(jpeg, 0, 8, 8), 4 / 127.5f, "JPEG within 4 levels");
        assertEquals(10 / 127.5f - 1f, at(ds.get(1), 0, 3, 3), 1e-6);
    }

    @Test
    void greyAndAlphaImagesBecomeRgb() throws IOException {
        BufferedImage grey = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                grey.getRaster().setSample(x, y, 0, 100);
            }
        }
        ImageIO.write(grey, "png", dir.resolve("grey.png").toFile());
        write(dir.resolve("alpha.png"), 8, 8, BufferedImage.TYPE_INT_ARGB, (x, y) -> 0x40 << 24 | rgb(30, 60, 90), "png");
        text("grey.txt", "grey");
        text("alpha.txt", "alpha");
        ImageFolderDataset ds = ImageFolderDataset.open(dir, 8);
        CaptionedImage a = ds.get(0);
        CaptionedImage g = ds.get(1);
        for (int c = 0; c < 3; c++) {
            assertEquals(100 / 127.5f - 1f, at(g, c, 5, 2), 1e-6, "grey value read from the raster, no gamma");
        }
        assertEquals(30 / 127.5f - 1f, at(a, 0, 1, 1), 1e-6, "alpha dropped, colour kept");
        assertEquals(90 / 127.5f - 1f, at(a, 2, 1, 1), 1e-6);
    }

    @Test
    void shortSideIsResizedAndTheCentreCropped() throws IOException {
        // A 64x32 horizontal ramp (red = 4x) at resolution 16: resized to 32x16 (a 2x reduction, which
        // keeps a ramp linear away from the edges: 8j + 2 at column j), then columns 8..23 kept.
        png(dir.resolve("wide.png"), 64, 32, (x, y) -> rgb(4 * x, 0, 0));
        // A 32x64 vertical ramp likewise: rows 8..23 of the 16x32 reduction.
        png(dir.resolve("tall.png"), 32, 64, (x, y) -> rgb(0, 4 * y, 0));
        text("wide.txt", "w");
        text("tall.txt", "t");
        ImageFolderDataset ds = ImageFolderDataset.open(dir, 16);
        CaptionedImage tall = ds.get(0);
        CaptionedImage wide = ds.get(1);
        for (int k = 0; k < 16; k++) {
            float want = (8 * (k + 8) + 2) / 127.5f - 1f;
            assertEquals(want, at(wide, 0, k, 7), 1e-4, "wide column " + k);
            assertEquals(want, at(tall, 1, 7, k), 1e-4, "tall row " + k);
        }
    }

    @Test
    void rampStaysLinearThroughReductionsAndEnlargements() {
        // Output pixel i covers source coordinates around (i + 0.5) * scale; a linear ramp v(x) = x
        // (pixel centres at x + 0.5) must come out as (i + 0.5) * scale - 0.5 away from the edges.
        for (int[] sizes : new int[][] {{60, 20}, {60, 30}, {17, 40}, {40, 64}}) {
            int in = sizes[0];
            int out = sizes[1];
            float[] ramp = new float[in];
            for (int x = 0; x < in; x++) {
                ramp[x] = x;
            }
            float[] r = ImageResize.resize(ramp, in, 1, 1, out, 1);
            double scale = (double) in / out;
            int margin = (int) Math.ceil(2 * Math.max(1, 1 / scale));
            for (int i = margin; i < out - margin; i++) {
                assertEquals((i + 0.5) * scale - 0.5, r[i], 1e-4, in + " -> " + out + " at " + i);
            }
        }
    }

    @Test
    void reductionAveragesInsteadOfAliasing() {
        // A one-pixel checkerboard of 0 and 255 reduced 64 -> 16 is flat 127.5 inside; point sampling
        // would give 0 or 255.
        int n = 64;
        float[] board = new float[n * n];
        for (int y = 0; y < n; y++) {
            for (int x = 0; x < n; x++) {
                board[y * n + x] = ((x + y) & 1) * 255f;
            }
        }
        float[] r = ImageResize.resize(board, n, n, 1, 16, 16);
        for (int y = 1; y < 15; y++) {
            for (int x = 1; x < 15; x++) {
                assertEquals(127.5, r[y * 16 + x], 1.0, "at " + x + "," + y);
            }
        }
    }

    @Test
    void cropOffsetRoundsHalfToEvenAsPython() {
        // 34x32 at 16: resized to 17x16, offset round(0.5) = 0 (Python), so the crop is columns 0..15.
        float[] img = new float[17 * 16];
        for (int y = 0; y < 16; y++) {
            for (int x = 0; x < 17; x++) {
                img[y * 17 + x] = x;
            }
        }
        // Already 17x16 at resolution 16: no resize, only the crop.
        float[] c = ImageResize.shortSideAndCenterCrop(img, 17, 16, 1, 16);
        assertEquals(0f, c[0]);
        assertEquals(15f, c[15]);
    }

    private DatasetException fails(String expectInMessage) {
        DatasetException e = assertThrows(DatasetException.class, () -> ImageFolderDataset.open(dir, 8).get(0));
        assertTrue(e.getMessage().contains(expectInMessage), "message names " + expectInMessage + ": " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e;
    }

    @Test
    void emptyFolderIsAnError() throws IOException {
        text("notes.txt", "no images here");
        fails("no PNG or JPEG images");
        assertThrows(DatasetException.class, () -> ImageFolderDataset.open(dir.resolve("absent"), 8));
    }

    @Test
    void imageWithoutTextFileIsAnError() throws IOException {
        png(dir.resolve("a.png"), 8, 8, (x, y) -> 0);
        png(dir.resolve("b.png"), 8, 8, (x, y) -> 0);
        text("a.txt", "has one");
        fails("b.png: no caption");
    }

    @Test
    void imageMissingFromMetadataIsAnError() throws IOException {
        png(dir.resolve("a.png"), 8, 8, (x, y) -> 0);
        png(dir.resolve("b.png"), 8, 8, (x, y) -> 0);
        text("metadata.jsonl", "{\"file_name\": \"a.png\", \"text\": \"x\"}\n");
        fails("b.png: no caption");
    }

    @Test
    void badJsonlLineNamesItsLineNumber() throws IOException {
        png(dir.resolve("a.png"), 8, 8, (x, y) -> 0);
        text("metadata.jsonl", "{\"file_name\": \"a.png\", \"text\": \"x\"}\n{\"file_name\": \"a.png\", \"text\": \n");
        fails("metadata.jsonl line 2: not valid JSON");
        text("metadata.jsonl", "\n{\"file_name\": \"a.png\"}\n");
        fails("metadata.jsonl line 2: no \"text\" string");
        text("metadata.jsonl", "[1, 2]\n");
        fails("metadata.jsonl line 1: expected a JSON object");
        text("metadata.jsonl", "{\"file_name\": \"gone.png\", \"text\": \"x\"}\n");
        fails("gone.png: no such image file");
        text("metadata.jsonl", "{\"file_name\": \"../a.png\", \"text\": \"x\"}\n");
        fails("is not a path inside");
        text("metadata.jsonl", "{\"file_name\": \"a.png\", \"text\": \"x\"}\n{\"file_name\": \"./a.png\", \"text\": \"y\"}\n");
        fails("line 2: a second caption for a.png");
    }

    @Test
    void unreadableImageIsAnError() throws IOException {
        Files.write(dir.resolve("broken.png"), "this is not a PNG".getBytes(StandardCharsets.UTF_8));
        text("broken.txt", "x");
        fails("broken.png: not a readable PNG or JPEG image");
        // A PNG cut short passes the header check and fails on decoding, still naming the file.
        png(dir.resolve("cut.png"), 64, 64, (x, y) -> rgb(x * 4, y * 4, (x * y) & 255));
        byte[] full = Files.readAllBytes(dir.resolve("cut.png"));
        Files.write(dir.resolve("cut.png"), java.util.Arrays.copyOf(full, full.length / 2));
        Files.delete(dir.resolve("broken.png"));
        text("cut.txt", "y");
        fails("cut.png");
    }
}
