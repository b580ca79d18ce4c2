// Draws a shapes-v1 Scene: a uniform background, then each object filled and anti-aliased by 4x4
// supersampling, the pixel blended as background + (colour - background) * coverage (coverage = the
// share of the 16 sample points inside the shape), rounded half up to 8 bits.
package dev.ldm4j.train.data;

public final class ShapesRenderer {
    /** Sample points per pixel along each axis. */
    public static final int SUPERSAMPLING = 4;

    private ShapesRenderer() {
    }

    /** The scene as a size x size 8-bit RGB image. */
    public static Rgb8Image render(Scene scene, int size) {
        if (size <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + size);
        }
        double[] canvas = new double[size * size * 3];
        int[] bg = scene.background().rgb();
        for (int i = 0; i < size * size; i++) {
            for (int c = 0; c < 3; c++) {
                canvas[i * 3 + c] = bg[c];
            }
        }
        for (SceneObject o : scene.objects()) {
            draw(canvas, size, o);
        }
        byte[] rgb = new byte[canvas.length];
        for (int i = 0; i < canvas.length; i++) {
            rgb[i] = (byte) (int) Math.floor(canvas[i] + 0.5);
        }
        return new Rgb8Image(size, size, rgb);
    }

    private static void draw(double[] canvas, int size, SceneObject o) {
        int[] color = o.color().rgb();
        double half = o.d() / 2;
        // Only pixels that meet the bounding box can be covered.
        int x0 = Math.max(0, (int) Math.floor((o.x() - half) * size));
        int x1 = Math.min(size - 1, (int) Math.floor((o.x() + half) * size));
        int y0 = Math.max(0, (int) Math.floor((o.y() - half) * size));
        int y1 = Math.min(size - 1, (int) Math.floor((o.y() + half) * size));
        double samples = SUPERSAMPLING * SUPERSAMPLING;
        for (int py = y0; py <= y1; py++) {
            for (int px = x0; px <= x1; px++) {
                int inside = 0;
                for (int sy = 0; sy < SUPERSAMPLING; sy++) {
                    double y = (py + (sy + 0.5) / SUPERSAMPLING) / size;
                    for (int sx = 0; sx < SUPERSAMPLING; sx++) {
                        double x = (px + (sx + 0.5) / SUPERSAMPLING) / size;
                        if (inside(o, x, y)) {
                            inside++;
                        }
                    }
                }
                if (inside == 0) {
                    continue;
                }
                double coverage = inside / samples;
                int at = (py * size + px) * 3;
                for (int c = 0; c < 3; c++) {
                    canvas[at + c] += (color[c] - canvas[at + c]) * coverage;
                }
            }
        }
    }

    /** Whether the point (x, y) (fractions of the side, y down) lies inside the object. */
    static boolean inside(SceneObject o, double x, double y) {
        double half = o.d() / 2;
        double dx = x - o.x();
        double dy = y - o.y();
        return switch (o.shape()) {
            case CIRCLE -> dx * dx + dy * dy <= half * half;
            case SQUARE -> Math.abs(dx) <= half && Math.abs(dy) <= half;
            case TRIANGLE -> {
                // Apex at (x, y - d/2), base from (x - d/2, y + d/2) to (x + d/2, y + d/2): at depth
                // t = (dy + d/2) / d below the apex the triangle is t * d wide.
                double t = (dy + half) / o.d();
                yield t >= 0 && t <= 1 && Math.abs(dx) <= t * half;
            }
        };
    }
}
