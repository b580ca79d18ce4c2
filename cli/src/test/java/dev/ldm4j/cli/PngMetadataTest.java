// PNG text chunks: what PngWriter writes (tEXt for Latin-1, iTXt for anything else) is read back by our
// own reader and by the JDK's PNG reader (ImageIO: the same pixels, the same text in its metadata); the
// zTXt and compressed iTXt that other tools write are read too; a damaged chunk (wrong CRC), a cut file
// and a file that is not a PNG are refused in one line.
package dev.ldm4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Node;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.DeflaterOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PngMetadataTest {
    private static final String PARAMETERS = "a (red:1.2) apple, on a table\nNegative prompt: blurry\n"
            + "Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 16x8, Model hash: 0123456789, Model: sd1-tiny";

    private static byte[] png(byte[] rgb, int w, int h, Map<String, String> text) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PngWriter.write(rgb, w, h, text, out);
        return out.toByteArray();
    }

    private static byte[] noise(int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        new Random(7).nextBytes(rgb);
        return rgb;
    }

    private static PngMetadata read(byte[] file) throws IOException {
        return PngMetadata.read(new ByteArrayInputStream(file), "test.png");
    }

    /** keyword -> text of the tEXtEntry or iTXtEntry nodes of ImageIO's native PNG metadata. */
    private static Map<String, String> imageIoText(byte[] file) throws IOException {
        Map<String, String> text = new LinkedHashMap<>();
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(file))) {
            ImageReader reader = ImageIO.getImageReaders(in).next();
            reader.setInput(in);
            IIOMetadata meta = reader.getImageMetadata(0);
            Node root = meta.getAsTree("javax_imageio_png_1.0");
            for (Node n = root.getFirstChild(); n != null; n = n.getNextSibling()) {
                for (Node e = n.getFirstChild(); e != null; e = e.getNextSibling()) {
                    String name = e.getNodeName();
                    if (name.equals("tEXtEntry")) {
                        text.put(name + ":" + attr(e, "keyword"), attr(e, "value"));
                    } else if (name.equals("iTXtEntry")) {
                        text.put(name + ":" + attr(e, "keyword"), attr(e, "text"));
                    }
                }
            }
            reader.dispose();
        }
        return text;
    }

    private static String attr(Node n, String name) {
        return n.getAttributes().getNamedItem(name).getNodeValue();
    }

    @Test
    void latin1TextIsATextChunkThatImageIoAndOurReaderBothRead() throws IOException {
        byte[] rgb = noise(16, 8);
        byte[] file = png(rgb, 16, 8, Map.of("parameters", PARAMETERS));
        assertTrue(new String(file, StandardCharsets.ISO_8859_1).contains("tEXtparameters\0"), "a tEXt chunk");

        PngMetadata meta = read(file);
        assertEquals(16, meta.width());
        assertEquals(8, meta.height());
        assertEquals("8-bit RGB", meta.format());
        assertEquals(Map.of("parameters", PARAMETERS), meta.text());

        assertEquals(Map.of("tEXtEntry:parameters", PARAMETERS), imageIoText(file));
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(file));
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 16; x++) {
                int at = (y * 16 + x) * 3;
                int want = (rgb[at] & 0xff) << 16 | (rgb[at + 1] & 0xff) << 8 | (rgb[at + 2] & 0xff);
                assertEquals(want, img.getRGB(x, y) & 0xffffff, "pixel " + x + "," + y);
            }
        }
    }

    @Test
    void textBeyondLatin1IsAnInternationalTextChunkInUtf8() throws IOException {
        String text = "ein Fuchs im Schnee, 雪の中の狐 🦊\nSteps: 4, Sampler: Euler, Seed: 1";
        byte[] file = png(noise(8, 8), 8, 8, Map.of("parameters", text, "Software", "ldm4j é"));
        assertTrue(new String(file, StandardCharsets.ISO_8859_1).contains("iTXtparameters\0"), "an iTXt chunk");
        assertEquals(Map.of("parameters", text, "Software", "ldm4j é"), read(file).text());
        Map<String, String> imageIo = imageIoText(file);
        assertEquals(text, imageIo.get("iTXtEntry:parameters"));
        assertEquals("ldm4j é", imageIo.get("tEXtEntry:Software"), "é is Latin-1: tEXt");
    }

    @Test
    void compressedTextChunksOfOtherToolsAreRead() throws IOException {
        byte[] plain = png(noise(8, 8), 8, 8, Map.of());
        byte[] ztxt = concat("parameters".getBytes(StandardCharsets.ISO_8859_1), new byte[] {0, 0}, deflate("Steps: 9, Seed: 1".getBytes(StandardCharsets.ISO_8859_1)));
        byte[] itxt = concat("comment".getBytes(StandardCharsets.ISO_8859_1), new byte[] {0, 1, 0}, "en".getBytes(StandardCharsets.ISO_8859_1),
                new byte[] {0}, "Kommentar".getBytes(StandardCharsets.UTF_8), new byte[] {0}, deflate("狐".getBytes(StandardCharsets.UTF_8)));
        byte[] file = insertAfterHeader(plain, chunk("zTXt", ztxt), chunk("iTXt", itxt));
        assertEquals(Map.of("parameters", "Steps: 9, Seed: 1", "comment", "狐"), read(file).text());
        assertTrue(ImageIO.read(new ByteArrayInputStream(file)) != null, "ImageIO reads it too");
    }

    @Test
    void aDamagedChunkIsRefusedByItsCrc(@TempDir Path dir) throws IOException {
        byte[] file = png(noise(8, 8), 8, 8, Map.of("parameters", PARAMETERS));
        int at = indexOf(file, "Steps".getBytes(StandardCharsets.ISO_8859_1));
        file[at] = 's';                                       // one letter changed, CRC left as it was
        Main.UserError e = assertThrows(Main.UserError.class, () -> read(file));
        assertTrue(e.getMessage().contains("CRC of the tEXt chunk"), e.getMessage());

        Path damaged = dir.resolve("damaged.png");
        Files.write(damaged, file);
        CliTest.assertOneLineError(CliTest.run("info", damaged.toString()), "CRC of the tEXt chunk");
    }

    @Test
    void aCutFileAndAFileThatIsNotAPngAreOneLine(@TempDir Path dir) throws IOException {
        byte[] file = png(noise(8, 8), 8, 8, Map.of("parameters", PARAMETERS));
        Path cut = dir.resolve("cut.png");
        Files.write(cut, Arrays.copyOf(file, file.length - 20));
        CliTest.assertOneLineError(CliTest.run("info", cut.toString()), "before the PNG's IEND chunk");
        Path text = dir.resolve("notes.png");
        Files.writeString(text, "not an image");
        CliTest.assertOneLineError(CliTest.run("info", text.toString()), "not a PNG file");
        CliTest.assertOneLineError(CliTest.run("info", dir.toString()), "not a regular file");
        CliTest.assertOneLineError(CliTest.run("info", dir.resolve("none.png").toString()), "no such file");
    }

    @Test
    void badKeywordsAndNulAreRefusedWhenWriting() {
        assertThrows(IllegalArgumentException.class, () -> png(noise(1, 1), 1, 1, Map.of("", "x")));
        assertThrows(IllegalArgumentException.class, () -> png(noise(1, 1), 1, 1, Map.of(" lead", "x")));
        assertThrows(IllegalArgumentException.class, () -> png(noise(1, 1), 1, 1, Map.of("k".repeat(80), "x")));
        assertThrows(IllegalArgumentException.class, () -> png(noise(1, 1), 1, 1, Map.of("parameters", "a\0b")));
    }

    // ------------------------------------------------------------------------------------------

    private static byte[] deflate(byte[] data) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (DeflaterOutputStream z = new DeflaterOutputStream(b)) {
            z.write(data);
        }
        return b.toByteArray();
    }

    private static byte[] concat(byte[]... parts) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            b.write(p);
        }
        return b.toByteArray();
    }

    private static byte[] chunk(String type, byte[] data) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(b);
        d.writeInt(data.length);
        byte[] t = type.getBytes(StandardCharsets.ISO_8859_1);
        d.write(t);
        d.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        d.writeInt((int) crc.getValue());
        return b.toByteArray();
    }

    /** The file with the chunks inserted after the signature and the 25-byte IHDR chunk. */
    private static byte[] insertAfterHeader(byte[] png, byte[]... chunks) throws IOException {
        int at = 8 + 25;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(png, 0, at);
        for (byte[] c : chunks) {
            b.write(c);
        }
        b.write(png, at, png.length - at);
        return b.toByteArray();
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
