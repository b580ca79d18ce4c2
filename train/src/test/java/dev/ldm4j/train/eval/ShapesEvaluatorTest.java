// The shapes evaluator against the dataset's own renders: every evaluation prompt rendered many ways,
// thousands of dataset samples judged by their captions, the worst jitter corners (large shapes cut by
// the border), all scored 100%; and wrong prompts (each attribute in turn) judged wrong by that
// attribute, so the 100% means something. Also the prompt grammar and the fixed prompt set.
package dev.ldm4j.train.eval;

import dev.ldm4j.train.data.Background;
import dev.ldm4j.train.data.ColoredShape;
import dev.ldm4j.train.data.Placement;
import dev.ldm4j.train.data.Relation;
import dev.ldm4j.train.data.Rgb8Image;
import dev.ldm4j.train.data.Scene;
import dev.ldm4j.train.data.SceneObject;
import dev.ldm4j.train.data.ShapeColor;
import dev.ldm4j.train.data.ShapeKind;
import dev.ldm4j.train.data.ShapesDataset;
import dev.ldm4j.train.data.ShapesRenderer;
import dev.ldm4j.train.data.ShapesSample;
import dev.ldm4j.train.data.SizeClass;
import dev.ldm4j.train.data.SplitMix64;
import dev.ldm4j.train.eval.EvalPromptSet.EvalPrompt;
import dev.ldm4j.train.eval.EvalPromptSet.Group;
import dev.ldm4j.train.eval.ShapesEvaluator.Judgement;
import dev.ldm4j.train.eval.ShapesPrompt.IntendedObject;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShapesEvaluatorTest {
    private static final int S = 64;

    @Test
    void promptParserReadsEveryPhraseAndLeavesTheRestUnstated() {
        ShapesPrompt p = ShapesPrompt.parse("A large Orange circle in the bottom right on a gray background.");
        assertEquals(Background.GRAY, p.background());
        assertNull(p.relation());
        assertEquals(List.of(new IntendedObject(ShapeColor.ORANGE, ShapeKind.CIRCLE, SizeClass.LARGE, Placement.BOTTOM_RIGHT)), p.objects());

        p = ShapesPrompt.parse("an orange square");
        assertNull(p.background());
        assertEquals(List.of(new IntendedObject(ShapeColor.ORANGE, ShapeKind.SQUARE, null, null)), p.objects());

        p = ShapesPrompt.parse("a small triangle at the top");
        assertEquals(List.of(new IntendedObject(null, ShapeKind.TRIANGLE, SizeClass.SMALL, Placement.TOP)), p.objects());

        p = ShapesPrompt.parse("a blue triangle to the right of a yellow circle on a black background");
        assertEquals(Relation.RIGHT_OF, p.relation());
        assertEquals(Background.BLACK, p.background());
        assertEquals(List.of(new IntendedObject(ShapeColor.BLUE, ShapeKind.TRIANGLE, null, null),
                new IntendedObject(ShapeColor.YELLOW, ShapeKind.CIRCLE, null, null)), p.objects());

        for (String bad : new String[] {"", "red circle", "a red", "a red circle in the middle", "a red circle above",
                "a red circle on a pink background", "a red circle on the left on a white backdrop", "a red circle at the top on the left"}) {
            PromptParseException e = assertThrows(PromptParseException.class, () -> ShapesPrompt.parse(bad), bad);
            assertTrue(e.getMessage().contains("expected"), e.getMessage());
        }
    }

    @Test
    void everyDatasetCaptionParsesToExactlyWhatItStates() {
        ShapesDataset ds = new ShapesDataset(5);
        for (long i = 0; i < 5000; i++) {
            ShapesSample s = ds.sample(i);
            ShapesPrompt p = ShapesPrompt.parse(s.caption());
            Scene scene = s.scene();
            String c = s.caption();
            assertEquals(c.contains("background") ? scene.background() : null, p.background(), c);
            assertEquals(scene.objects().size(), p.objects().size(), c);
            assertEquals(scene.relation(), p.relation(), c);
            for (int k = 0; k < p.objects().size(); k++) {
                IntendedObject o = p.objects().get(k);
                SceneObject so = scene.objects().get(k);
                assertEquals(so.color(), o.color(), c);
                assertEquals(so.shape(), o.shape(), c);
                assertEquals(c.contains("small") || c.contains("large") ? so.size() : null, o.size(), c);
                assertEquals(o.placement() == null ? null : so.placement(), o.placement(), c);
            }
            // Re-composing the caption from what was parsed gives it back.
            boolean one = scene.objects().size() == 1;
            assertEquals(c, ShapesDataset.caption(scene, one && p.objects().getFirst().size() != null,
                    one && p.objects().getFirst().placement() != null, p.background() != null));
        }
    }

    @Test
    void everyEvaluationPromptRenderedManyWaysScoresFully() {
        List<String> failures = new ArrayList<>();
        int judged = 0;
        for (EvalPrompt ep : EvalPromptSet.all()) {
            ShapesPrompt prompt = ShapesPrompt.parse(ep.prompt());
            for (int k = 0; k < 25; k++) {
                Scene scene = prompt.sampleScene(SplitMix64.forIndex(ep.seed(), k));
                Judgement j = ShapesEvaluator.judge(ShapesRenderer.render(scene, S), prompt);
                judged++;
                if (!j.correct()) {
                    failures.add(ep.prompt() + " #" + k + ": " + j.failures() + " " + scene);
                }
            }
        }
        assertEquals(List.of(), failures, "of " + judged);
    }

    @Test
    void threeThousandDatasetSamplesScoreFullyByTheirCaptions() {
        ShapesDataset ds = new ShapesDataset(11);
        List<String> failures = new ArrayList<>();
        for (long i = 0; i < 3000; i++) {
            ShapesSample s = ds.sample(i);
            Judgement j = ShapesEvaluator.judge(ds.render(i), s.caption());
            if (!j.correct()) {
                failures.add(i + " \"" + s.caption() + "\": " + j.failures() + " " + s.scene());
            }
        }
        assertEquals(List.of(), failures);
    }

    @Test
    void noisyRendersAndLargerImagesScoreFully() {
        // Generated images are not clean: Gaussian noise of 8 levels per channel changes nothing.
        ShapesDataset ds = new ShapesDataset(13);
        java.util.Random noise = new java.util.Random(4);
        List<String> failures = new ArrayList<>();
        for (long i = 0; i < 500; i++) {
            byte[] rgb = ds.render(i).rgb().clone();
            for (int k = 0; k < rgb.length; k++) {
                rgb[k] = (byte) Math.clamp(Math.round((rgb[k] & 0xff) + 8 * noise.nextGaussian()), 0, 255);
            }
            Judgement j = ShapesEvaluator.judge(new Rgb8Image(S, S, rgb), ds.sample(i).caption());
            if (!j.correct()) {
                failures.add("noisy " + i + " \"" + ds.sample(i).caption() + "\": " + j.failures());
            }
        }
        // Everything is measured in fractions of the side, so 128 px reads as 64 px does.
        ShapesDataset large = new ShapesDataset(13, 128);
        for (long i = 0; i < 300; i++) {
            Judgement j = ShapesEvaluator.judge(large.render(i), large.sample(i).caption());
            if (!j.correct()) {
                failures.add("128 px " + i + " \"" + large.sample(i).caption() + "\": " + j.failures());
            }
        }
        assertEquals(List.of(), failures);
    }

    @Test
    void worstJitterCornersScoreFully() {
        // Every colour, shape and background; each size at its smallest and largest d; each place with
        // the centre pushed to each jitter corner (large shapes there are cut by the image border).
        List<String> failures = new ArrayList<>();
        double j = Placement.JITTER;
        for (ShapeColor color : ShapeColor.values()) {
            for (ShapeKind shape : ShapeKind.values()) {
                for (Background bg : Background.values()) {
                    for (SizeClass size : SizeClass.values()) {
                        for (double d : new double[] {size.nominal() - size.jitter(), size.nominal() + size.jitter()}) {
                            for (Placement place : Placement.values()) {
                                for (double[] off : new double[][] {{-j, -j}, {-j, j}, {j, -j}, {j, j}}) {
                                    SceneObject o = new SceneObject(color, shape, size, place.x() + off[0], place.y() + off[1], d);
                                    Scene scene = Scene.single(bg, o);
                                    String caption = ShapesDataset.caption(scene, true, true, true);
                                    Judgement jd = ShapesEvaluator.judge(ShapesRenderer.render(scene, S), caption);
                                    if (!jd.correct()) {
                                        failures.add(caption + ": " + jd.failures() + " " + o);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assertEquals(List.of(), failures);
    }

    @Test
    void pairsAtTheirClosestAndFarthestScoreFully() {
        List<String> failures = new ArrayList<>();
        for (Relation r : Relation.values()) {
            for (double sep : new double[] {Relation.MIN_SEPARATION, Relation.MAX_SEPARATION}) {
                for (ColoredShape a : ColoredShape.TRAINING) {
                    ColoredShape b = ColoredShape.TRAINING.get((ColoredShape.TRAINING.indexOf(a) + 4) % 15);
                    double off = (r == Relation.LEFT_OF || r == Relation.ABOVE ? -sep : sep) / 2;
                    double d = SizeClass.SMALL.nominal() + SizeClass.SMALL.jitter();
                    SceneObject oa = new SceneObject(a.color(), a.shape(), SizeClass.SMALL, r.horizontal() ? 0.5 + off : 0.5, r.horizontal() ? 0.5 : 0.5 + off, d);
                    SceneObject ob = new SceneObject(b.color(), b.shape(), SizeClass.SMALL, r.horizontal() ? 0.5 - off : 0.5, r.horizontal() ? 0.5 : 0.5 - off, d);
                    Scene scene = Scene.pair(Background.GRAY, oa, ob, r);
                    String caption = ShapesDataset.caption(scene, false, false, true);
                    Judgement jd = ShapesEvaluator.judge(ShapesRenderer.render(scene, S), caption);
                    if (!jd.correct()) {
                        failures.add(caption + ": " + jd.failures());
                    }
                }
            }
        }
        assertEquals(List.of(), failures);
    }

    private static Rgb8Image render(String prompt, long seed) {
        return ShapesRenderer.render(ShapesPrompt.parse(prompt).sampleScene(new SplitMix64(seed)), S);
    }

    private static void judgedWrongBy(Rgb8Image img, String prompt, String attribute) {
        Judgement j = ShapesEvaluator.judge(img, prompt);
        assertFalse(j.correct(), prompt + " should be judged wrong");
        assertNotNull(j.check(attribute), prompt + " checks " + attribute);
        assertFalse(j.check(attribute).correct(), prompt + ": " + attribute + " should fail; " + j.checks());
        long failed = j.checks().stream().filter(c -> !c.correct()).count();
        assertEquals(1, failed, prompt + ": only " + attribute + " fails; " + j.failures());
    }

    @Test
    void wrongPromptsAreJudgedWrongByTheWrongAttribute() {
        Rgb8Image img = render("a large red circle in the top left on a white background", 1);
        assertTrue(ShapesEvaluator.judge(img, "a large red circle in the top left on a white background").correct());
        judgedWrongBy(img, "a large orange circle in the top left on a white background", "color");
        judgedWrongBy(img, "a large red square in the top left on a white background", "shape");
        judgedWrongBy(img, "a large red triangle in the top left on a white background", "shape");
        judgedWrongBy(img, "a small red circle in the top left on a white background", "size");
        judgedWrongBy(img, "a large red circle in the center on a white background", "position");
        judgedWrongBy(img, "a large red circle at the top on a white background", "position");
        judgedWrongBy(img, "a large red circle in the top left on a gray background", "background");
        assertFalse(ShapesEvaluator.judge(img, "a red circle above a blue square").correct(), "one object for two");

        Rgb8Image pair = render("a green triangle above a purple circle on a black background", 2);
        assertTrue(ShapesEvaluator.judge(pair, "a green triangle above a purple circle on a black background").correct());
        assertTrue(ShapesEvaluator.judge(pair, "a purple circle below a green triangle").correct(), "the same scene said the other way");
        judgedWrongBy(pair, "a green triangle below a purple circle", "relation");
        judgedWrongBy(pair, "a purple circle above a green triangle", "relation");
        judgedWrongBy(pair, "a green triangle above a blue circle", "second color");
        judgedWrongBy(pair, "a green square above a purple circle", "first shape");
        judgedWrongBy(pair, "a green triangle on a black background", "objects");
    }

    @Test
    void specksAreIgnoredAndStretchedBoxesAreNoShape() {
        Rgb8Image img = render("a small blue square in the center on a white background", 3);
        byte[] rgb = img.rgb().clone();
        // A few isolated dark pixels and one 3x3 blot (under 1% of the image) away from the square.
        for (int[] p : new int[][] {{3, 3}, {60, 5}, {10, 50}}) {
            for (int c = 0; c < 3; c++) {
                rgb[(p[1] * S + p[0]) * 3 + c] = 0;
            }
        }
        for (int y = 55; y < 58; y++) {
            for (int x = 50; x < 53; x++) {
                rgb[(y * S + x) * 3] = (byte) 200;
                rgb[(y * S + x) * 3 + 1] = 0;
                rgb[(y * S + x) * 3 + 2] = 0;
            }
        }
        Judgement j = ShapesEvaluator.judge(new Rgb8Image(S, S, rgb), "a small blue square in the center on a white background");
        assertTrue(j.correct(), j.failures());

        // A 24x10 red bar: fills its box like a square but is no shape of the dataset.
        byte[] bar = new Rgb8Image(S, S, new byte[S * S * 3]).rgb();
        for (int y = 27; y < 37; y++) {
            for (int x = 20; x < 44; x++) {
                bar[(y * S + x) * 3] = (byte) 220;
                bar[(y * S + x) * 3 + 1] = 40;
                bar[(y * S + x) * 3 + 2] = 40;
            }
        }
        Judgement jb = ShapesEvaluator.judge(new Rgb8Image(S, S, bar), "a red square in the center");
        assertFalse(jb.correct());
        assertEquals("other", jb.check("shape").found());
    }

    @Test
    void evaluationSetIsFixedAndCoversWhatItSays() {
        List<EvalPrompt> all = EvalPromptSet.all();
        assertEquals(84, all.size());
        assertEquals(EvalPromptSet.SEEN_COUNT, EvalPromptSet.group(Group.SEEN).size());
        assertEquals(EvalPromptSet.UNSEEN_COUNT, EvalPromptSet.group(Group.UNSEEN_PAIRS).size());
        assertEquals(EvalPromptSet.TWO_OBJECT_COUNT, EvalPromptSet.group(Group.TWO_OBJECTS).size());
        assertEquals(all.size(), new HashSet<>(all.stream().map(EvalPrompt::prompt).toList()).size(), "no prompt twice");
        assertEquals(all.size(), new HashSet<>(all.stream().map(EvalPrompt::seed).toList()).size(), "no seed twice");
        assertEquals("a small red circle in the top left on a white background", all.getFirst().prompt());
        assertEquals(1000, all.getFirst().seed());

        Map<ShapeColor, Integer> colors = new EnumMap<>(ShapeColor.class);
        Map<ShapeKind, Integer> shapes = new EnumMap<>(ShapeKind.class);
        Map<Placement, Integer> places = new EnumMap<>(Placement.class);
        Set<SizeClass> sizes = EnumSet.noneOf(SizeClass.class);
        Set<Background> bgs = EnumSet.noneOf(Background.class);
        for (EvalPrompt ep : EvalPromptSet.group(Group.SEEN)) {
            ShapesPrompt p = ShapesPrompt.parse(ep.prompt());
            IntendedObject o = p.objects().getFirst();
            assertFalse(new ColoredShape(o.color(), o.shape()).heldOut(), ep.prompt());
            assertNotNull(o.size());
            assertNotNull(o.placement());
            assertNotNull(p.background());
            colors.merge(o.color(), 1, Integer::sum);
            shapes.merge(o.shape(), 1, Integer::sum);
            places.merge(o.placement(), 1, Integer::sum);
            sizes.add(o.size());
            bgs.add(p.background());
        }
        assertEquals(6, colors.size());
        assertTrue(colors.values().stream().allMatch(n -> n >= 6 && n <= 12), colors.toString());
        assertTrue(shapes.values().stream().allMatch(n -> n == 16), shapes.toString());
        assertEquals(9, places.size());
        assertTrue(places.values().stream().allMatch(n -> n == 5 || n == 6), places.toString());
        assertEquals(EnumSet.allOf(SizeClass.class), sizes);
        assertEquals(EnumSet.allOf(Background.class), bgs);

        Set<ColoredShape> unseen = new HashSet<>();
        Set<Placement> unseenPlaces = EnumSet.noneOf(Placement.class);
        for (EvalPrompt ep : EvalPromptSet.group(Group.UNSEEN_PAIRS)) {
            IntendedObject o = ShapesPrompt.parse(ep.prompt()).objects().getFirst();
            assertTrue(new ColoredShape(o.color(), o.shape()).heldOut(), ep.prompt());
            unseen.add(new ColoredShape(o.color(), o.shape()));
            unseenPlaces.add(o.placement());
        }
        assertEquals(Set.copyOf(ColoredShape.HELD_OUT), unseen);
        assertEquals(EnumSet.allOf(Placement.class), unseenPlaces);

        Map<Relation, Integer> relations = new EnumMap<>(Relation.class);
        for (EvalPrompt ep : EvalPromptSet.group(Group.TWO_OBJECTS)) {
            ShapesPrompt p = ShapesPrompt.parse(ep.prompt());
            assertEquals(2, p.objects().size());
            assertTrue(p.objects().stream().noneMatch(o -> new ColoredShape(o.color(), o.shape()).heldOut()), ep.prompt());
            assertTrue(p.objects().get(0).color() != p.objects().get(1).color(), ep.prompt());
            relations.merge(p.relation(), 1, Integer::sum);
        }
        assertEquals(Map.of(Relation.LEFT_OF, 6, Relation.RIGHT_OF, 6, Relation.ABOVE, 6, Relation.BELOW, 6), relations);
    }
}
