// A folder of captioned images (--data FOLDER), in either of the two layouts people use:
//   - metadata.jsonl at the top of the folder, one JSON object per line with "file_name" (a path
//     relative to the folder) and "text" (the caption), as Hugging Face's imagefolder reads it;
//   - a .txt beside each image with the same base name holding its caption (used when there is no
//     metadata.jsonl).
// Images are PNG or JPEG files (.png, .jpg, .jpeg, any case) anywhere under the folder, skipping
// hidden files and folders (names starting with '.'), in the order of their relative paths. Each is
// read through ImageIO, converted to RGB (alpha dropped, grey repeated), resized so its short side is
// the resolution and centre-cropped (ImageResize: the diffusers training scripts' Resize + CenterCrop),
// and given as [3, res, res] floats in [-1, 1]. Opening checks every caption and every image header,
// so a bad file is reported before training starts; every error is a DatasetException naming the file.
package dev.ldm4j.train.data;

import dev.ldm4j.weights.Json;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

public final class ImageFolderDataset implements CaptionedImageDataset {
    public static final String METADATA = "metadata.jsonl";

    /** One image and its caption. */
    public record Entry(Path file, String caption) {
    }

    private final Path folder;
    private final int resolution;
    private final List<Entry> entries;

    private ImageFolderDataset(Path folder, int resolution, List<Entry> entries) {
        this.folder = folder;
        this.resolution = resolution;
        this.entries = List.copyOf(entries);
    }

    /** Finds the images and their captions and checks that each image can be decoded (its header). */
    public static ImageFolderDataset open(Path folder, int resolution) {
        if (resolution <= 0) {
            throw new IllegalArgumentException("resolution must be positive, got " + resolution);
        }
        if (!Files.isDirectory(folder)) {
            throw new DatasetException(folder + ": no such folder");
        }
        Map<String, Path> images = findImages(folder);
        Path metadata = folder.resolve(METADATA);
        List<Entry> entries = Files.isRegularFile(metadata) ? fromMetadata(folder, metadata, images) : fromTextFiles(folder, images);
        if (entries.isEmpty()) {
            throw new DatasetException(folder + ": no PNG or JPEG images (.png, .jpg, .jpeg) in the folder");
        }
        try {
            for (Entry e : entries) {
                checkHeader(e.file());
            }
        } catch (NoClassDefFoundError e) {
            throw noImageIo(folder);
        }
        return new ImageFolderDataset(folder, resolution, entries);
    }

    public Path folder() {
        return folder;
    }

    @Override
    public int resolution() {
        return resolution;
    }

    @Override
    public long size() {
        return entries.size();
    }

    public List<Entry> entries() {
        return entries;
    }

    /** Decodes, resizes and crops image {@code index}. */
    @Override
    public CaptionedImage get(long index) {
        if (index < 0 || index >= entries.size()) {
            throw new IndexOutOfBoundsException("sample " + index + " of a dataset of " + entries.size());
        }
        Entry e = entries.get((int) index);
        BufferedImage img;
        try {
            img = read(e.file());
        } catch (NoClassDefFoundError err) {
            throw noImageIo(e.file());
        }
        int w = img.getWidth();
        int h = img.getHeight();
        float[] hwc = ImageResize.shortSideAndCenterCrop(rgb(img), w, h, 3, resolution);
        int plane = resolution * resolution;
        float[] chw = new float[3 * plane];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                chw[c * plane + i] = hwc[i * 3 + c] / 127.5f - 1f;
            }
        }
        return new CaptionedImage(chw, resolution, resolution, e.caption());
    }

    /** Relative path ('/'-separated) to file, for every PNG/JPEG under the folder, sorted by that path. */
    private static Map<String, Path> findImages(Path folder) {
        Map<String, Path> images = new TreeMap<>();
        try (Stream<Path> files = Files.walk(folder)) {
            for (Iterator<Path> it = files.iterator(); it.hasNext(); ) {
                Path p = it.next();
                Path rel = folder.relativize(p);
                if (hidden(rel) || !Files.isRegularFile(p) || !isImageName(p.getFileName().toString())) {
                    continue;
                }
                images.put(slashed(rel), p);
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new DatasetException(folder + ": cannot list the folder: " + oneLine(e.getMessage()));
        }
        return images;
    }

    private static boolean hidden(Path rel) {
        for (Path part : rel) {
            if (part.toString().startsWith(".")) {
                return true;
            }
        }
        return false;
    }

    private static boolean isImageName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg");
    }

    private static String slashed(Path rel) {
        return rel.toString().replace(rel.getFileSystem().getSeparator(), "/");
    }

    private static List<Entry> fromMetadata(Path folder, Path metadata, Map<String, Path> images) {
        String text = readUtf8(metadata);
        Map<String, String> captions = new HashMap<>();
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty()) {
                continue;
            }
            String where = metadata + " line " + (i + 1);
            Object parsed;
            try {
                parsed = Json.parse(line);
            } catch (Json.JsonException e) {
                throw new DatasetException(where + ": not valid JSON: " + oneLine(e.getMessage()));
            }
            if (!(parsed instanceof Map<?, ?> obj)) {
                throw new DatasetException(where + ": expected a JSON object like {\"file_name\": \"a.png\", \"text\": \"a caption\"}");
            }
            if (!(obj.get("file_name") instanceof String name)) {
                throw new DatasetException(where + ": no \"file_name\" string");
            }
            if (!(obj.get("text") instanceof String caption)) {
                throw new DatasetException(where + ": no \"text\" string (the caption) for " + name);
            }
            Path file = folder.resolve(name).normalize();
            if (!file.startsWith(folder.normalize()) || name.isEmpty()) {
                throw new DatasetException(where + ": file_name " + name + " is not a path inside " + folder);
            }
            String key = slashed(folder.normalize().relativize(file));
            if (!Files.isRegularFile(file)) {
                throw new DatasetException(where + ": " + file + ": no such image file");
            }
            if (!isImageName(key)) {
                throw new DatasetException(where + ": " + file + ": not a PNG or JPEG file name (.png, .jpg, .jpeg)");
            }
            if (captions.put(key, caption.strip()) != null) {
                throw new DatasetException(where + ": a second caption for " + key);
            }
        }
        List<Entry> entries = new ArrayList<>();
        for (var image : images.entrySet()) {
            String caption = captions.remove(image.getKey());
            if (caption == null) {
                throw new DatasetException(image.getValue() + ": no caption: the image has no line in " + metadata);
            }
            entries.add(new Entry(image.getValue(), caption));
        }
        if (!captions.isEmpty()) {
            // Listed files that exist but were skipped by the scan (e.g. under a hidden folder).
            String key = captions.keySet().iterator().next();
            throw new DatasetException(metadata + ": " + key + " is listed but lies in a hidden folder or is hidden; move or rename it");
        }
        return entries;
    }

    private static List<Entry> fromTextFiles(Path folder, Map<String, Path> images) {
        List<Entry> entries = new ArrayList<>();
        for (Path image : images.values()) {
            String name = image.getFileName().toString();
            Path txt = image.resolveSibling(name.substring(0, name.lastIndexOf('.')) + ".txt");
            if (!Files.isRegularFile(txt)) {
                throw new DatasetException(image + ": no caption: expected " + txt.getFileName() + " beside it, or a " + METADATA + " in " + folder);
            }
            entries.add(new Entry(image, readUtf8(txt).strip()));
        }
        return entries;
    }

    private static String readUtf8(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new DatasetException(file + ": cannot read: " + oneLine(e.getMessage()));
        }
        try {
            String s = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
            return s.startsWith("\uFEFF") ? s.substring(1) : s;
        } catch (CharacterCodingException e) {
            throw new DatasetException(file + ": not UTF-8 text");
        }
    }

    /** Reads the width and height from the header; fails with the file's name if no reader takes it. */
    private static void checkHeader(Path file) {
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) {
                throw new DatasetException(file + ": cannot open the image");
            }
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new DatasetException(file + ": not a readable PNG or JPEG image");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                if (reader.getWidth(0) <= 0 || reader.getHeight(0) <= 0) {
                    throw new DatasetException(file + ": the image has no pixels");
                }
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof DatasetException d) {
                throw d;
            }
            throw new DatasetException(file + ": unreadable image: " + oneLine(e.getMessage()));
        }
    }

    private static BufferedImage read(Path file) {
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new DatasetException(file + ": unreadable image: " + oneLine(e.getMessage()));
        }
        if (img == null) {
            throw new DatasetException(file + ": not a readable PNG or JPEG image");
        }
        return img;
    }

    /**
     * [h, w, 3] floats in 0..255. Grey images (with or without alpha) are read from the raster, since
     * getRGB would pass a linear-grey colour space through a gamma conversion; all others through
     * getRGB (sRGB, alpha ignored, as PIL's convert("RGB")).
     */
    static float[] rgb(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        float[] out = new float[w * h * 3];
        var cm = img.getColorModel();
        if (cm.getColorSpace().getType() == java.awt.color.ColorSpace.TYPE_GRAY) {
            Raster r = img.getRaster();
            double max = (1L << cm.getComponentSize(0)) - 1;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    float v = (float) (r.getSample(x, y, 0) * 255.0 / max);
                    int at = (y * w + x) * 3;
                    out[at] = v;
                    out[at + 1] = v;
                    out[at + 2] = v;
                }
            }
            return out;
        }
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int argb = img.getRGB(x, y);
                int at = (y * w + x) * 3;
                out[at] = (argb >> 16) & 0xff;
                out[at + 1] = (argb >> 8) & 0xff;
                out[at + 2] = argb & 0xff;
            }
        }
        return out;
    }

    /** On a Java runtime built without the desktop module there are no image decoders. */
    private static DatasetException noImageIo(Path where) {
        return new DatasetException(where + ": reading images needs a Java runtime with the java.desktop module (ImageIO)");
    }

    private static String oneLine(String message) {
        return message == null ? "unknown error" : message.replace('\n', ' ').replace('\r', ' ');
    }
}
