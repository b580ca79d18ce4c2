// An 8-bit RGB PNG encoder (PNG specification, W3C 2003: signature, IHDR, text chunks, one
// zlib-compressed IDAT, IEND; each chunk's CRC-32 over its type and data). Rows use the Paeth filter
// (section 9.4), which suits photographs. Text (section 11.3.4) goes in a tEXt chunk when it is
// Latin-1, as the specification requires, else in an uncompressed iTXt chunk (UTF-8), as Pillow (and
// so A1111) writes it. Only java.base is needed (java.util.zip), so a runtime without the desktop module
// (such as the small one carried to a GPU host) can write images; reading images stays in Images.
package dev.ldm4j.cli;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;

final class PngWriter {
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    private static final int PAETH = 4;

    private PngWriter() {
    }

    /** Writes width x height pixels of rgb (3 bytes per pixel, row by row) to out as a PNG. */
    static void write(byte[] rgb, int width, int height, OutputStream out) throws IOException {
        write(rgb, width, height, Map.of(), out);
    }

    /**
     * As write(rgb, width, height, out), with a text chunk per entry of text (keyword -> text, in the
     * map's order) before the image data.
     */
    static void write(byte[] rgb, int width, int height, Map<String, String> text, OutputStream out) throws IOException {
        for (Map.Entry<String, String> e : text.entrySet()) {
            checkText(e.getKey(), e.getValue());
        }
        if (width <= 0 || height <= 0 || (long) width * height * 3 != rgb.length) {
            throw new IllegalArgumentException("a " + width + "x" + height + " RGB image needs " + (long) width * height * 3 + " bytes, got " + rgb.length);
        }
        DataOutputStream data = new DataOutputStream(out);
        data.write(SIGNATURE);
        ByteArrayOutputStream header = new ByteArrayOutputStream();
        DataOutputStream h = new DataOutputStream(header);
        h.writeInt(width);
        h.writeInt(height);
        h.writeByte(8);   // bits per sample
        h.writeByte(2);   // colour type: truecolour (RGB)
        h.writeByte(0);   // compression: deflate
        h.writeByte(0);   // filter method 0 (five per-row filter types)
        h.writeByte(0);   // no interlace
        chunk(data, "IHDR", header.toByteArray());
        for (Map.Entry<String, String> e : text.entrySet()) {
            boolean latin1 = StandardCharsets.ISO_8859_1.newEncoder().canEncode(e.getValue());
            chunk(data, latin1 ? "tEXt" : "iTXt", textChunk(e.getKey(), e.getValue(), latin1));
        }
        chunk(data, "IDAT", compressedRows(rgb, width, height));
        chunk(data, "IEND", new byte[0]);
        data.flush();
    }

    /**
     * A keyword is 1 to 79 printable Latin-1 characters without leading, trailing or double spaces;
     * the text holds no NUL (section 11.3.4.3).
     */
    private static void checkText(String keyword, String text) {
        boolean ok = !keyword.isEmpty() && keyword.length() <= 79 && !keyword.startsWith(" ") && !keyword.endsWith(" ")
                && !keyword.contains("  ");
        for (int i = 0; ok && i < keyword.length(); i++) {
            char c = keyword.charAt(i);
            ok = (c >= 32 && c <= 126) || (c >= 161 && c <= 255);
        }
        if (!ok) {
            throw new IllegalArgumentException("'" + keyword + "' is not a PNG text keyword (1-79 printable Latin-1 characters)");
        }
        if (text.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("PNG text '" + keyword + "' holds a NUL character");
        }
    }

    /** tEXt: keyword, NUL, Latin-1 text. iTXt: keyword, NUL, not compressed (0, 0), no language tag or translated keyword (NUL, NUL), UTF-8 text. */
    private static byte[] textChunk(String keyword, String text, boolean latin1) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(keyword.getBytes(StandardCharsets.ISO_8859_1));
        b.write(0);
        if (latin1) {
            b.write(text.getBytes(StandardCharsets.ISO_8859_1));
        } else {
            b.write(new byte[] {0, 0, 0, 0});
            b.write(text.getBytes(StandardCharsets.UTF_8));
        }
        return b.toByteArray();
    }

    /** The zlib stream of the filtered rows: each row is its filter type byte, then Paeth differences. */
    private static byte[] compressedRows(byte[] rgb, int width, int height) throws IOException {
        int stride = width * 3;
        ByteArrayOutputStream packed = new ByteArrayOutputStream(rgb.length / 2 + 64);
        Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION);
        try (DeflaterOutputStream z = new DeflaterOutputStream(packed, deflater, 1 << 16)) {
            byte[] row = new byte[stride + 1];
            row[0] = PAETH;
            for (int y = 0; y < height; y++) {
                int at = y * stride;
                for (int i = 0; i < stride; i++) {
                    int left = i >= 3 ? rgb[at + i - 3] & 0xff : 0;
                    int up = y > 0 ? rgb[at - stride + i] & 0xff : 0;
                    int upLeft = i >= 3 && y > 0 ? rgb[at - stride + i - 3] & 0xff : 0;
                    row[i + 1] = (byte) ((rgb[at + i] & 0xff) - paeth(left, up, upLeft));
                }
                z.write(row);
            }
        } finally {
            deflater.end();
        }
        return packed.toByteArray();
    }

    /** The Paeth predictor: of left, up and upper-left, the one nearest to left + up - upperLeft (ties in that order). */
    static int paeth(int a, int b, int c) {
        int p = a + b - c;
        int pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        if (pa <= pb && pa <= pc) {
            return a;
        }
        return pb <= pc ? b : c;
    }

    private static void chunk(DataOutputStream out, String type, byte[] body) throws IOException {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(body);
        out.writeInt(body.length);
        out.write(t);
        out.write(body);
        out.writeInt((int) crc.getValue());
    }
}
