// Reads a shapes-v1 image back into what it shows, for judging generated images:
//   background  the per-channel median of the border pixels, named by the nearest palette entry;
//   objects     8-connected regions of pixels farther than MASK_DISTANCE (RGB Euclidean) from that
//               median, specks under MIN_AREA of the image ignored;
//   colour      the mean of the object's inner pixels (two pixels in from its edge where it has
//               some, else one, else all), named by the nearest palette colour;
//   extent      measured with sub-pixel coverage, so anti-aliased edges do not round the box up or
//               down by a pixel: each pixel's coverage is its colour projected on the line from the
//               background to the object's colour; the box sides are the sums of the column and row
//               maxima, the centre their weighted mean, the covered area the sum;
//   shape       by the share of its box it covers: a triangle 1/2, a circle pi/4 = 0.785, a square 1,
//               the thresholds between (TRIANGLE_BELOW, SQUARE_FROM). All three have square boxes, so
//               one whose short side is under MIN_ASPECT of its long side (when it does not touch the
//               image border, which may cut it) is none of them (shape null);
//   size        small or large by the longer box side, split at SIZE_SPLIT = (0.25 + 0.47) / 2;
//   place       the third of the image (each axis) the box centre falls in.
// Measured on 20,000 dataset renders at 64 px: covered shares 0.516..0.585 for triangles (cut by the
// border included), 0.769..0.859 for circles, 1.000 for squares; longer sides 0.221..0.266 (small)
// and 0.416..0.504 (large); centres at least 2 px from a third's edge. Every render is read right at
// 64 px and above, also under Gaussian noise of 8 levels per channel; at 32 px, where a small shape
// is 8 px wide, about 1% of small shapes are misread.
package dev.ldm4j.train.eval;

import dev.ldm4j.train.data.Background;
import dev.ldm4j.train.data.Placement;
import dev.ldm4j.train.data.Rgb8Image;
import dev.ldm4j.train.data.ShapeColor;
import dev.ldm4j.train.data.ShapeKind;
import dev.ldm4j.train.data.SizeClass;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

public final class ShapesImageParser {
    /** RGB distance from the background beyond which a pixel belongs to an object. */
    public static final double MASK_DISTANCE = 48;
    /** Regions smaller than this share of the image are specks, not objects. */
    public static final double MIN_AREA = 0.01;
    /** Fill of the bounding box below which an object is a triangle (ideal 0.5). */
    public static final double TRIANGLE_BELOW = 0.65;
    /** Fill from which an object is a square (ideal 1); between the two it is a circle (ideal 0.785). */
    public static final double SQUARE_FROM = 0.90;
    /** Least short-to-long side ratio of an unclipped box for one of the three shapes. */
    public static final double MIN_ASPECT = 0.75;
    /** Longer box side (fraction of the image side) from which an object is large. */
    public static final double SIZE_SPLIT = (SizeClass.SMALL.nominal() + SizeClass.LARGE.nominal()) / 2;

    private ShapesImageParser() {
    }

    /**
     * An object found in the image. x, y: centre of its box and width, height: box sides, all
     * fractions of the image side (sub-pixel, from coverage); fill: covered area over box area; area:
     * pixels in its region; shape null when the box is too far from square for any of the three.
     */
    public record DetectedObject(ShapeColor color, ShapeKind shape, SizeClass size, Placement placement,
                                 double x, double y, double width, double height, double fill, int area,
                                 int[] meanRgb, boolean touchesBorder) {
        /** "red circle", or "red object" when the shape is none of the three. */
        public String words() {
            return color.word() + " " + (shape == null ? "object" : shape.word());
        }
    }

    /** What the image shows: its background (measured and named) and the objects, in scan order. */
    public record ParsedImage(int width, int height, int[] backgroundRgb, Background background, List<DetectedObject> objects) {
    }

    public static ParsedImage parse(Rgb8Image img) {
        int w = img.width();
        int h = img.height();
        int[] bg = borderMedian(img);
        Background background = nearest(Background.values(), bg, Background::rgb);
        boolean[] mask = new boolean[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                mask[y * w + x] = distance2(img, x, y, bg) > MASK_DISTANCE * MASK_DISTANCE;
            }
        }
        int[] label = new int[w * h];
        Arrays.fill(label, -1);
        List<DetectedObject> objects = new ArrayList<>();
        int[] queue = new int[w * h];
        int next = 0;
        for (int start = 0; start < w * h; start++) {
            if (!mask[start] || label[start] >= 0) {
                continue;
            }
            // Breadth-first flood fill of one 8-connected region.
            int id = next++;
            int head = 0;
            int tail = 0;
            queue[tail++] = start;
            label[start] = id;
            while (head < tail) {
                int p = queue[head++];
                int px = p % w;
                int py = p / w;
                for (int dy = -1; dy <= 1; dy++) {
                    for (int dx = -1; dx <= 1; dx++) {
                        int nx = px + dx;
                        int ny = py + dy;
                        if (nx >= 0 && nx < w && ny >= 0 && ny < h && mask[ny * w + nx] && label[ny * w + nx] < 0) {
                            label[ny * w + nx] = id;
                            queue[tail++] = ny * w + nx;
                        }
                    }
                }
            }
            if (tail >= MIN_AREA * w * h) {
                objects.add(describe(img, label, id, Arrays.copyOf(queue, tail), bg));
            }
        }
        return new ParsedImage(w, h, bg, background, List.copyOf(objects));
    }

    private static DetectedObject describe(Rgb8Image img, int[] label, int id, int[] pixels, int[] bg) {
        int w = img.width();
        int h = img.height();
        int x0 = w;
        int y0 = h;
        int x1 = -1;
        int y1 = -1;
        for (int p : pixels) {
            x0 = Math.min(x0, p % w);
            x1 = Math.max(x1, p % w);
            y0 = Math.min(y0, p / w);
            y1 = Math.max(y1, p / w);
        }
        boolean touches = x0 == 0 || y0 == 0 || x1 == w - 1 || y1 == h - 1;
        int[] mean = innerMean(img, label, id, pixels);
        ShapeColor color = nearest(ShapeColor.values(), mean, ShapeColor::rgb);
        // Coverage of each pixel of the region and of the pixels around it outside any region (the
        // faint edge, below the mask distance): its colour projected on the line background -> mean.
        // The area sums the projections as they are (noise in them cancels); the profiles take them
        // clamped to [0, 1]. The box sides are the sums of the column and row maxima, so a shape
        // reaching a third of the way into a pixel adds a third of a pixel, not a whole one.
        int gx0 = Math.max(0, x0 - 1);
        int gx1 = Math.min(w - 1, x1 + 1);
        int gy0 = Math.max(0, y0 - 1);
        int gy1 = Math.min(h - 1, y1 + 1);
        double[] dir = new double[3];
        double norm = 0;
        for (int c = 0; c < 3; c++) {
            dir[c] = mean[c] - bg[c];
            norm += dir[c] * dir[c];
        }
        // A region whose mean colour is near the background (parts on either side of it) has no
        // direction to project on: it is measured by its pixels alone.
        boolean binary = norm < MASK_DISTANCE * MASK_DISTANCE / 4;
        double[] colMax = new double[gx1 - gx0 + 1];
        double[] rowMax = new double[gy1 - gy0 + 1];
        double area = 0;
        for (int y = gy0; y <= gy1; y++) {
            for (int x = gx0; x <= gx1; x++) {
                if (label[y * w + x] != id && !touchesRegion(label, w, h, x, y, id)) {
                    continue;
                }
                double p;
                if (binary) {
                    p = label[y * w + x] == id ? 1 : 0;
                } else {
                    double dot = 0;
                    for (int c = 0; c < 3; c++) {
                        dot += (img.get(x, y, c) - bg[c]) * dir[c];
                    }
                    p = dot / norm;
                }
                area += p;
                double a = Math.min(1, Math.max(0, p));
                colMax[x - gx0] = Math.max(colMax[x - gx0], a);
                rowMax[y - gy0] = Math.max(rowMax[y - gy0], a);
            }
        }
        double bw = 0;
        double bh = 0;
        double sx = 0;
        double sy = 0;
        for (int i = 0; i < colMax.length; i++) {
            bw += colMax[i];
            sx += (gx0 + i + 0.5) * colMax[i];
        }
        for (int i = 0; i < rowMax.length; i++) {
            bh += rowMax[i];
            sy += (gy0 + i + 0.5) * rowMax[i];
        }
        double fill = area / (bw * bh);
        ShapeKind shape;
        if (!touches && Math.min(bw, bh) < MIN_ASPECT * Math.max(bw, bh)) {
            shape = null;
        } else if (fill < TRIANGLE_BELOW) {
            shape = ShapeKind.TRIANGLE;
        } else if (fill < SQUARE_FROM) {
            shape = ShapeKind.CIRCLE;
        } else {
            shape = ShapeKind.SQUARE;
        }
        double width = bw / w;
        double height = bh / h;
        SizeClass size = Math.max(width, height) < SIZE_SPLIT ? SizeClass.SMALL : SizeClass.LARGE;
        double cx = sx / bw / w;
        double cy = sy / bh / h;
        return new DetectedObject(color, shape, size, Placement.ofPoint(cx, cy), cx, cy, width, height, fill, pixels.length, mean, touches);
    }

    /**
     * Mean colour of the pixels at least two steps (4-neighbourhood) inside the region, else one, else
     * all; the image border counts as outside.
     */
    private static int[] innerMean(Rgb8Image img, int[] label, int id, int[] pixels) {
        int w = img.width();
        int h = img.height();
        // depth: 0 on the region's edge, 1 one step in, 2 two or more steps in.
        int[] depth = new int[pixels.length];
        boolean[] inner1 = new boolean[w * h];
        for (int i = 0; i < pixels.length; i++) {
            if (allNeighbours(label, w, h, pixels[i], id, null)) {
                inner1[pixels[i]] = true;
                depth[i] = 1;
            }
        }
        for (int i = 0; i < pixels.length; i++) {
            if (depth[i] == 1 && allNeighbours(label, w, h, pixels[i], id, inner1)) {
                depth[i] = 2;
            }
        }
        for (int want = 2; want >= 0; want--) {
            long[] sum = new long[3];
            int n = 0;
            for (int i = 0; i < pixels.length; i++) {
                if (depth[i] >= want) {
                    for (int c = 0; c < 3; c++) {
                        sum[c] += img.get(pixels[i] % w, pixels[i] / w, c);
                    }
                    n++;
                }
            }
            if (n >= 4 || want == 0) {
                return new int[] {(int) Math.round(sum[0] / (double) n), (int) Math.round(sum[1] / (double) n), (int) Math.round(sum[2] / (double) n)};
            }
        }
        throw new IllegalStateException("unreachable");
    }

    /** Whether (x, y) lies outside every region and next to (8-neighbourhood) a pixel of region id. */
    private static boolean touchesRegion(int[] label, int w, int h, int x, int y, int id) {
        if (label[y * w + x] >= 0) {
            return false;
        }
        for (int dy = -1; dy <= 1; dy++) {
            for (int dx = -1; dx <= 1; dx++) {
                int nx = x + dx;
                int ny = y + dy;
                if (nx >= 0 && nx < w && ny >= 0 && ny < h && label[ny * w + nx] == id) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Whether the 4 neighbours of p lie in region id (and, if given, in the set {@code also}). */
    private static boolean allNeighbours(int[] label, int w, int h, int p, int id, boolean[] also) {
        int x = p % w;
        int y = p / w;
        int[][] steps = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
        for (int[] s : steps) {
            int nx = x + s[0];
            int ny = y + s[1];
            if (nx < 0 || nx >= w || ny < 0 || ny >= h) {
                return false; // a pixel on the image border may be an edge the border hides
            }
            int q = ny * w + nx;
            if (label[q] != id || (also != null && !also[q])) {
                return false;
            }
        }
        return true;
    }

    /** Per-channel median of the pixels on the image's outer ring. */
    private static int[] borderMedian(Rgb8Image img) {
        int w = img.width();
        int h = img.height();
        List<int[]> ring = new ArrayList<>();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (x == 0 || y == 0 || x == w - 1 || y == h - 1) {
                    ring.add(new int[] {img.get(x, y, 0), img.get(x, y, 1), img.get(x, y, 2)});
                }
            }
        }
        int[] median = new int[3];
        for (int c = 0; c < 3; c++) {
            int[] v = new int[ring.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = ring.get(i)[c];
            }
            Arrays.sort(v);
            median[c] = v[v.length / 2];
        }
        return median;
    }

    private static double distance2(Rgb8Image img, int x, int y, int[] rgb) {
        double d = 0;
        for (int c = 0; c < 3; c++) {
            double t = img.get(x, y, c) - rgb[c];
            d += t * t;
        }
        return d;
    }

    /** The palette entry nearest (RGB Euclidean) to the colour. */
    static <T> T nearest(T[] palette, int[] rgb, java.util.function.Function<T, int[]> colorOf) {
        T best = null;
        double bestD = Double.POSITIVE_INFINITY;
        for (T t : palette) {
            int[] p = colorOf.apply(t);
            double d = 0;
            for (int c = 0; c < 3; c++) {
                d += (p[c] - rgb[c]) * (double) (p[c] - rgb[c]);
            }
            if (d < bestD) {
                bestD = d;
                best = t;
            }
        }
        return best;
    }
}
