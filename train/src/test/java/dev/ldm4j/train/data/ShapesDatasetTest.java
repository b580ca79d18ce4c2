// shapes-v1 against its specification: palette values, caption grammar and articles, held-out pairs
// never drawn, phrase-omission and two-object rates, object sizes and positions within their jitter,
// the two-object layout, the renderer's coverage, and determinism by (seed, index).
package dev.ldm4j.train.data;

import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShapesDatasetTest {
    private static final int N = 20_000;
    private static final double EPS = 1e-12;

    private static final String COLOR = "(red|orange|yellow|green|blue|purple)";
    private static final String SHAPE = "(circle|square|triangle)";
    private static final String BACKGROUND = "( on a (white|gray|black) background)?";
    private static final Pattern SINGLE = Pattern.compile("(an?) ((small|large) )?" + COLOR + " " + SHAPE
            + "( (in the top left|at the top|in the top right|on the left|in the center|on the right|in the bottom left|at the bottom|in the bottom right))?"
            + BACKGROUND);
    private static final Pattern PAIR = Pattern.compile("(an?) " + COLOR + " " + SHAPE
            + " (to the left of|to the right of|above|below) (an?) " + COLOR + " " + SHAPE + BACKGROUND);

    @Test
    void paletteIsTheSpecifiedOne() {
        assertArrayEquals(new int[] {240, 240, 240}, Background.WHITE.rgb());
        assertArrayEquals(new int[] {128, 128, 128}, Background.GRAY.rgb());
        assertArrayEquals(new int[] {24, 24, 24}, Background.BLACK.rgb());
        assertArrayEquals(new int[] {220, 40, 40}, ShapeColor.RED.rgb());
        assertArrayEquals(new int[] {240, 140, 30}, ShapeColor.ORANGE.rgb());
        assertArrayEquals(new int[] {235, 215, 40}, ShapeColor.YELLOW.rgb());
        assertArrayEquals(new int[] {40, 170, 70}, ShapeColor.GREEN.rgb());
        assertArrayEquals(new int[] {40, 90, 220}, ShapeColor.BLUE.rgb());
        assertArrayEquals(new int[] {150, 60, 200}, ShapeColor.PURPLE.rgb());
        assertEquals(15, ColoredShape.TRAINING.size());
        assertEquals(Set.of("purple triangle", "orange circle", "green square"),
                Set.copyOf(ColoredShape.HELD_OUT.stream().map(ColoredShape::words).toList()));
    }

    @Test
    void twentyThousandSamplesFollowTheSpecification() {
        ShapesDataset ds = new ShapesDataset(7);
        int two = 0;
        int singles = 0;
        int sizeOmitted = 0;
        int placeOmitted = 0;
        int bgOmittedSingle = 0;
        int bgOmittedPair = 0;
        boolean sawAnOrange = false;
        Set<ColoredShape> looks = new HashSet<>();
        Set<Background> backgrounds = EnumSet.noneOf(Background.class);
        Set<Placement> places = EnumSet.noneOf(Placement.class);
        Set<SizeClass> sizes = EnumSet.noneOf(SizeClass.class);
        Set<Relation> relations = EnumSet.noneOf(Relation.class);
        for (long i = 0; i < N; i++) {
            ShapesSample s = ds.sample(i);
            Scene scene = s.scene();
            String caption = s.caption();
            backgrounds.add(scene.background());
            assertFalse(caption.contains("a orange"), caption);
            sawAnOrange |= caption.contains("an orange");
            for (SceneObject o : scene.objects()) {
                assertFalse(o.coloredShape().heldOut(), "held-out pair drawn at index " + i + ": " + caption);
                looks.add(o.coloredShape());
                double j = o.size().jitter();
                assertTrue(Math.abs(o.d() - o.size().nominal()) <= j + EPS, "d " + o.d() + " at index " + i);
            }
            boolean bgStated = caption.endsWith(" on a " + scene.background().word() + " background");
            assertEquals(bgStated, caption.contains("background"), caption);
            if (scene.objects().size() == 1) {
                singles++;
                Matcher m = SINGLE.matcher(caption);
                assertTrue(m.matches(), "caption outside the grammar: " + caption);
                SceneObject o = scene.objects().getFirst();
                sizes.add(o.size());
                Placement p = o.placement();
                places.add(p);
                assertTrue(Math.abs(o.x() - p.x()) <= Placement.JITTER + EPS, "x " + o.x() + " for " + p);
                assertTrue(Math.abs(o.y() - p.y()) <= Placement.JITTER + EPS, "y " + o.y() + " for " + p);
                assertEquals(m.group(1), m.group(3) == null ? article(o.color().word()) : "a", caption);
                if (m.group(3) == null) {
                    sizeOmitted++;
                } else {
                    assertEquals(o.size().word(), m.group(3));
                }
                assertEquals(o.color().word(), m.group(4));
                assertEquals(o.shape().word(), m.group(5));
                if (m.group(7) == null) {
                    placeOmitted++;
                } else {
                    assertEquals(p.phrase(), m.group(7));
                }
                if (!bgStated) {
                    bgOmittedSingle++;
                }
            } else {
                two++;
                Matcher m = PAIR.matcher(caption);
                assertTrue(m.matches(), "caption outside the grammar: " + caption);
                SceneObject a = scene.objects().get(0);
                SceneObject b = scene.objects().get(1);
                Relation r = scene.relation();
                relations.add(r);
                assertEquals(SizeClass.SMALL, a.size());
                assertEquals(SizeClass.SMALL, b.size());
                assertNotEquals(a.coloredShape(), b.coloredShape(), caption);
                assertEquals(article(a.color().word()), m.group(1));
                assertEquals(a.color().word() + " " + a.shape().word(), m.group(2) + " " + m.group(3));
                assertEquals(r.phrase(), m.group(4));
                assertEquals(article(b.color().word()), m.group(5));
                assertEquals(b.color().word() + " " + b.shape().word(), m.group(6) + " " + m.group(7));
                assertTrue(r.holds(a.x(), a.y(), b.x(), b.y()), caption);
                double along = r.horizontal() ? Math.abs(a.x() - b.x()) : Math.abs(a.y() - b.y());
                assertTrue(along >= Relation.MIN_SEPARATION - EPS && along <= Relation.MAX_SEPARATION + EPS, "separation " + along);
                assertEquals(0.5, (a.x() + b.x()) / 2, EPS, "symmetric about the centre");
                assertEquals(0.5, (a.y() + b.y()) / 2, EPS, "symmetric about the centre");
                assertEquals(r.horizontal() ? a.y() : a.x(), 0.5, EPS, "on the centre line across the axis");
                if (!bgStated) {
                    bgOmittedPair++;
                }
            }
        }
        assertTrue(sawAnOrange, "some caption says \"an orange\"");
        assertEquals(Set.copyOf(ColoredShape.TRAINING), looks);
        assertEquals(EnumSet.allOf(Background.class), backgrounds);
        assertEquals(EnumSet.allOf(Placement.class), places);
        assertEquals(EnumSet.allOf(SizeClass.class), sizes);
        assertEquals(EnumSet.allOf(Relation.class), relations);
        // Binomial standard errors: two-object share 0.003, omission rates <= 0.008; tolerances ~5 sigma.
        assertEquals(0.25, two / (double) N, 0.015, "two-object share");
        assertEquals(0.3, sizeOmitted / (double) singles, 0.02, "size phrase omitted");
        assertEquals(0.3, placeOmitted / (double) singles, 0.02, "place phrase omitted");
        assertEquals(0.3, bgOmittedSingle / (double) singles, 0.02, "background phrase omitted (one object)");
        assertEquals(0.3, bgOmittedPair / (double) two, 0.04, "background phrase omitted (two objects)");
    }

    private static String article(String word) {
        return "aeiou".indexOf(word.charAt(0)) >= 0 ? "an" : "a";
    }

    @Test
    void anArticleGoesBeforeAVowelOnly() {
        assertEquals("an orange square", ShapesDataset.withArticle("orange square"));
        assertEquals("a large orange square", ShapesDataset.withArticle("large orange square"));
        assertEquals("a red circle", ShapesDataset.withArticle("red circle"));
        Scene s = Scene.single(Background.GRAY, new SceneObject(ShapeColor.ORANGE, ShapeKind.SQUARE, SizeClass.SMALL, 0.5, 0.25, 0.25));
        assertEquals("an orange square at the top on a gray background", ShapesDataset.caption(s, false, true, true));
        assertEquals("a small orange square", ShapesDataset.caption(s, true, false, false));
    }

    @Test
    void sampleDependsOnlyOnSeedAndIndex() {
        ShapesDataset a = new ShapesDataset(42);
        ShapesDataset b = new ShapesDataset(42);
        for (long i = 0; i < 50; i++) {
            a.sample(i);
        }
        // b draws in reverse and skips ahead; a second call on a gives the same again.
        for (long i = 999; i >= 990; i--) {
            assertEquals(a.sample(i), b.sample(i));
            assertArrayEquals(a.render(i).rgb(), b.render(i).rgb());
            assertEquals(a.get(i).caption(), b.get(i).caption());
            assertArrayEquals(a.get(i).chw(), b.get(i).chw());
        }
        assertEquals(a.sample(123_456_789_012L), b.sample(123_456_789_012L));
        int differ = 0;
        ShapesDataset other = new ShapesDataset(43);
        for (long i = 0; i < 20; i++) {
            if (!a.sample(i).scene().equals(other.sample(i).scene())) {
                differ++;
            }
        }
        assertEquals(20, differ, "another seed gives other scenes");
    }

    @Test
    void renderFillsShapesWithTheirColourOverTheBackground() {
        // A large square in the centre of a black image: inner pixels are exactly the colour, corners
        // exactly the background, edges a blend, and the covered area is d^2 within half a pixel row.
        SceneObject sq = new SceneObject(ShapeColor.BLUE, ShapeKind.SQUARE, SizeClass.LARGE, 0.5, 0.5, 0.47);
        Rgb8Image img = ShapesRenderer.render(Scene.single(Background.BLACK, sq), 64);
        assertArrayEquals(ShapeColor.BLUE.rgb(), pixel(img, 32, 32));
        assertArrayEquals(Background.BLACK.rgb(), pixel(img, 0, 0));
        assertArrayEquals(Background.BLACK.rgb(), pixel(img, 63, 63));
        for (ShapeKind kind : ShapeKind.values()) {
            for (SizeClass size : SizeClass.values()) {
                SceneObject o = new SceneObject(ShapeColor.BLUE, kind, size, 0.5 + 0.3 / 64, 0.5 - 0.7 / 64, size.nominal());
                double area = coveredArea(ShapesRenderer.render(Scene.single(Background.BLACK, o), 64), ShapeColor.BLUE, Background.BLACK);
                double side = size.nominal() * 64;
                double want = switch (kind) {
                    case CIRCLE -> Math.PI / 4 * side * side;
                    case SQUARE -> side * side;
                    case TRIANGLE -> side * side / 2;
                };
                assertEquals(want, area, 0.02 * want + 1, kind + " " + size + " covered area in pixels");
            }
        }
    }

    @Test
    void triangleHasItsApexUpAndBaseDown() {
        SceneObject t = new SceneObject(ShapeColor.RED, ShapeKind.TRIANGLE, SizeClass.LARGE, 0.5, 0.5, 0.5);
        Rgb8Image img = ShapesRenderer.render(Scene.single(Background.WHITE, t), 64);
        // Rows 17 and 46 lie 1 pixel inside the top and bottom of the box (16..48).
        int topRow = 0;
        int bottomRow = 0;
        for (int x = 0; x < 64; x++) {
            topRow += pixel(img, x, 17)[1] < 200 ? 1 : 0;
            bottomRow += pixel(img, x, 46)[1] < 200 ? 1 : 0;
        }
        assertTrue(topRow <= 4, "narrow near the apex: " + topRow);
        assertTrue(bottomRow >= 28, "wide near the base: " + bottomRow);
    }

    @Test
    void chwIsPixelOver127Point5MinusOne() {
        ShapesDataset ds = new ShapesDataset(3, 32);
        Rgb8Image img = ds.render(5);
        CaptionedImage ci = ds.get(5);
        assertEquals(32, ci.width());
        assertEquals(List.of(3, 32, 32), List.of(ci.toTensor().shape()[0], ci.toTensor().shape()[1], ci.toTensor().shape()[2]));
        for (int y = 0; y < 32; y++) {
            for (int x = 0; x < 32; x++) {
                for (int c = 0; c < 3; c++) {
                    assertEquals(img.get(x, y, c) / 127.5f - 1f, ci.chw()[(c * 32 + y) * 32 + x]);
                }
            }
        }
        assertArrayEquals(img.rgb(), Rgb8Image.fromChw(ci.chw(), 32, 32).rgb(), "fromChw inverts toChw");
    }

    private static int[] pixel(Rgb8Image img, int x, int y) {
        return new int[] {img.get(x, y, 0), img.get(x, y, 1), img.get(x, y, 2)};
    }

    /** Sum over pixels of the coverage read back from the blend (projection on background -> colour). */
    private static double coveredArea(Rgb8Image img, ShapeColor color, Background bg) {
        int[] c = color.rgb();
        int[] b = bg.rgb();
        double norm = 0;
        for (int k = 0; k < 3; k++) {
            norm += (c[k] - b[k]) * (double) (c[k] - b[k]);
        }
        double area = 0;
        for (int y = 0; y < img.height(); y++) {
            for (int x = 0; x < img.width(); x++) {
                double dot = 0;
                for (int k = 0; k < 3; k++) {
                    dot += (img.get(x, y, k) - b[k]) * (double) (c[k] - b[k]);
                }
                area += dot / norm;
            }
        }
        return area;
    }
}
