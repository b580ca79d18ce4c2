// What a PNG file says about itself without decoding its pixels: the size and format from IHDR and
// every text chunk (tEXt, zTXt, iTXt; PNG specification, W3C 2003, section 11.3.4), each chunk's CRC-32
// checked on the way (section 5.3). This is where `info` and `generate --from-png` find the "parameters"
// text that ldm4j and A1111 write. Only java.base is needed.
package dev.ldm4j.cli;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * @param width     pixels
 * @param height    pixels
 * @param bitDepth  bits per sample
 * @param colorType 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA
 * @param text      keyword -> text of every text chunk, in file order (a repeated keyword keeps the last, as Pillow does)
 */
record PngMetadata(int width, int height, int bitDepth, int colorType, Map<String, String> text) {
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    /** The largest text chunk read, compressed or not: far above any prompt, far below the heap. */
    static final int TEXT_LIMIT = 16 << 20;

    PngMetadata {
        text = Collections.unmodifiableMap(new LinkedHashMap<>(text));
    }

    /** "8-bit RGB" and the like. */
    String format() {
        String kind = switch (colorType) {
            case 0 -> "greyscale";
            case 2 -> "RGB";
            case 3 -> "palette";
            case 4 -> "greyscale + alpha";
            case 6 -> "RGBA";
            default -> "colour type " + colorType;
        };
        return bitDepth + "-bit " + kind;
    }

    /** Reads file's header and text chunks; one-line errors for anything that is not an intact PNG. */
    static PngMetadata read(Path file) {
        if (!Files.exists(file)) {
            throw new Main.UserError(file + ": no such file");
        }
        if (!Files.isRegularFile(file)) {
            throw new Main.UserError(file + " is not a regular file; give a PNG file");
        }
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            return read(in, file.toString());
        } catch (IOException e) {
            throw new Main.UserError(file + ": cannot read: " + Main.oneLine(e.getMessage()));
        }
    }

    static PngMetadata read(InputStream stream, String name) throws IOException {
        DataInputStream in = new DataInputStream(stream);
        byte[] signature = new byte[8];
        if (in.readNBytes(signature, 0, 8) != 8 || !Arrays.equals(signature, SIGNATURE)) {
            throw new Main.UserError(name + ": not a PNG file");
        }
        int width = 0;
        int height = 0;
        int bitDepth = 0;
        int colorType = 0;
        Map<String, String> text = new LinkedHashMap<>();
        long at = 8;
        byte[] buffer = new byte[1 << 16];
        try {
            for (int index = 0; ; index++) {
                long length = Integer.toUnsignedLong(in.readInt());
                byte[] typeBytes = new byte[4];
                in.readFully(typeBytes);
                String type = new String(typeBytes, StandardCharsets.ISO_8859_1);
                if (length > Integer.MAX_VALUE || !type.chars().allMatch(Character::isLetter)) {
                    throw new Main.UserError(name + ": damaged PNG: no valid chunk at byte " + at);
                }
                if (index == 0 && !type.equals("IHDR")) {
                    throw new Main.UserError(name + ": damaged PNG: it does not start with an IHDR chunk");
                }
                boolean keep = type.equals("IHDR") || type.equals("tEXt") || type.equals("zTXt") || type.equals("iTXt");
                if (keep && length > TEXT_LIMIT) {
                    throw new Main.UserError(name + ": the " + type + " chunk at byte " + at + " has " + length
                            + " bytes; ldm4j reads at most " + TEXT_LIMIT);
                }
                CRC32 crc = new CRC32();
                crc.update(typeBytes);
                byte[] data = keep ? new byte[(int) length] : null;
                if (keep) {
                    in.readFully(data);
                    crc.update(data);
                } else {
                    for (long left = length; left > 0; ) {
                        int n = (int) Math.min(left, buffer.length);
                        in.readFully(buffer, 0, n);
                        crc.update(buffer, 0, n);
                        left -= n;
                    }
                }
                if (in.readInt() != (int) crc.getValue()) {
                    throw new Main.UserError(name + ": damaged PNG: the CRC of the " + type + " chunk at byte " + at + " does not match its data");
                }
                switch (type) {
                    case "IHDR" -> {
                        if (length != 13) {
                            throw new Main.UserError(name + ": damaged PNG: IHDR has " + length + " bytes, not 13");
                        }
                        width = readInt(data, 0);
                        height = readInt(data, 4);
                        bitDepth = data[8] & 0xff;
                        colorType = data[9] & 0xff;
                    }
                    case "tEXt", "zTXt", "iTXt" -> {
                        String[] entry = textEntry(type, data, name, at);
                        text.put(entry[0], entry[1]);
                    }
                    case "IEND" -> {
                        return new PngMetadata(width, height, bitDepth, colorType, text);
                    }
                    default -> {
                    }
                }
                at += 12 + length;
            }
        } catch (EOFException e) {
            throw new Main.UserError(name + ": the file ends at byte " + at + ", before the PNG's IEND chunk (truncated?)");
        }
    }

    private static int readInt(byte[] b, int at) {
        return (b[at] & 0xff) << 24 | (b[at + 1] & 0xff) << 16 | (b[at + 2] & 0xff) << 8 | (b[at + 3] & 0xff);
    }

    /** {keyword, text} of one text chunk. */
    private static String[] textEntry(String type, byte[] data, String name, long at) {
        int nul = indexOf(data, 0);
        if (nul < 1) {
            throw new Main.UserError(name + ": damaged PNG: the " + type + " chunk at byte " + at + " has no keyword");
        }
        String keyword = new String(data, 0, nul, StandardCharsets.ISO_8859_1);
        int p = nul + 1;
        switch (type) {
            case "tEXt" -> {
                return new String[] {keyword, new String(data, p, data.length - p, StandardCharsets.ISO_8859_1)};
            }
            case "zTXt" -> {
                byte[] inflated = inflate(Arrays.copyOfRange(data, p + 1, data.length), name, type, at);
                return new String[] {keyword, new String(inflated, StandardCharsets.ISO_8859_1)};
            }
            default -> {                                           // iTXt
                if (p + 2 > data.length) {
                    throw new Main.UserError(name + ": damaged PNG: the iTXt chunk at byte " + at + " is cut short");
                }
                boolean compressed = data[p] != 0;
                p += 2;                                            // compression flag and method
                int language = indexOf(data, p);
                int translated = language < 0 ? -1 : indexOf(data, language + 1);
                if (translated < 0) {
                    throw new Main.UserError(name + ": damaged PNG: the iTXt chunk at byte " + at + " is cut short");
                }
                byte[] body = Arrays.copyOfRange(data, translated + 1, data.length);
                return new String[] {keyword, new String(compressed ? inflate(body, name, type, at) : body, StandardCharsets.UTF_8)};
            }
        }
    }

    private static int indexOf(byte[] data, int from) {
        for (int i = from; i < data.length; i++) {
            if (data[i] == 0) {
                return i;
            }
        }
        return -1;
    }

    /** zlib-inflates a compressed text, at most TEXT_LIMIT bytes of it. */
    private static byte[] inflate(byte[] z, String name, String type, long at) {
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(z);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[1 << 14];
            while (!inflater.finished()) {
                int n = inflater.inflate(buf);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    throw new Main.UserError(name + ": damaged PNG: the compressed " + type + " text at byte " + at + " is cut short");
                }
                out.write(buf, 0, n);
                if (out.size() > TEXT_LIMIT) {
                    throw new Main.UserError(name + ": the " + type + " text at byte " + at + " unpacks to more than " + TEXT_LIMIT + " bytes");
                }
            }
            return out.toByteArray();
        } catch (DataFormatException e) {
            throw new Main.UserError(name + ": damaged PNG: the compressed " + type + " text at byte " + at + " is not valid zlib data");
        } finally {
            inflater.end();
        }
    }
}
