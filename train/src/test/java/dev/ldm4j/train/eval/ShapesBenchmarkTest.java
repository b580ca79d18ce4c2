// ShapesBenchmark's counting, on hand-made judgements: images correct and checks correct per attribute,
// per group and over all; the median time; the prompt selection (a limit per group); the JSON of the
// failures and the table's rows.
package dev.ldm4j.train.eval;

import dev.ldm4j.train.data.Rgb8Image;
import dev.ldm4j.train.eval.EvalPromptSet.EvalPrompt;
import dev.ldm4j.train.eval.EvalPromptSet.Group;
import dev.ldm4j.train.eval.ShapesBenchmark.Report;
import dev.ldm4j.train.eval.ShapesBenchmark.Sample;
import dev.ldm4j.train.eval.ShapesBenchmark.Sampling;
import dev.ldm4j.train.eval.ShapesBenchmark.Score;
import dev.ldm4j.train.eval.ShapesBenchmark.Tally;
import dev.ldm4j.train.eval.ShapesEvaluator.AttributeCheck;
import dev.ldm4j.train.eval.ShapesEvaluator.Judgement;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShapesBenchmarkTest {
    private static final Rgb8Image PIXEL = new Rgb8Image(1, 1, new byte[3]);

    /** A sample whose checks are given as "attribute=ok" or "attribute=bad"; correct when all are ok. */
    private static Sample sample(Group group, String prompt, long millis, String... checks) {
        List<AttributeCheck> list = new ArrayList<>();
        for (String c : checks) {
            String[] kv = c.split("=");
            boolean ok = kv[1].equals("ok");
            list.add(new AttributeCheck(kv[0], "x", ok ? "x" : "y", ok));
        }
        boolean correct = list.stream().allMatch(AttributeCheck::correct);
        Judgement j = new Judgement(ShapesPrompt.parse(prompt), null, list, correct);
        return new Sample(new EvalPrompt(group, prompt, 1), PIXEL, j, millis * 1_000_000);
    }

    private static List<Sample> handMade() {
        String one = "a small red circle in the center on a white background";
        String two = "a red circle to the left of a blue square on a black background";
        return List.of(
                sample(Group.SEEN, one, 300, "objects=ok", "background=ok", "color=ok", "shape=ok", "size=ok", "position=ok"),
                sample(Group.SEEN, one, 100, "objects=ok", "background=ok", "color=bad", "shape=ok", "size=ok", "position=bad"),
                sample(Group.SEEN, one, 200, "objects=bad", "background=ok", "color=bad", "shape=bad", "size=ok", "position=ok"),
                sample(Group.TWO_OBJECTS, two, 400, "objects=ok", "background=ok", "first color=ok", "first shape=ok",
                        "second color=bad", "second shape=ok", "relation=bad"),
                sample(Group.TWO_OBJECTS, two, 600, "objects=ok", "background=ok", "first color=ok", "first shape=ok",
                        "second color=ok", "second shape=ok", "relation=ok"));
    }

    @Test
    void countsImagesAndChecksPerGroupAndAttribute() {
        Report r = ShapesBenchmark.report(new Sampling(2, 7.5, null, false), "test", handMade(), null);
        assertEquals(2, r.groups().size(), "only the groups that have images");
        Score seen = r.groups().get(0);
        assertEquals("seen", seen.name());
        assertEquals(new Tally("images", 1, 3), seen.images());
        assertEquals(List.of("objects", "background", "color", "shape", "size", "position"),
                seen.attributes().stream().map(Tally::name).toList(), "the judge's names, in order of first appearance");
        assertEquals(new Tally("objects", 2, 3), seen.attribute("objects"));
        assertEquals(new Tally("background", 3, 3), seen.attribute("background"));
        assertEquals(new Tally("color", 1, 3), seen.attribute("color"));
        assertEquals(new Tally("shape", 2, 3), seen.attribute("shape"));
        assertEquals(new Tally("position", 2, 3), seen.attribute("position"));
        assertNull(seen.attribute("relation"));
        assertEquals(0.2, seen.medianSeconds(), 1e-12, "median of 0.3, 0.1, 0.2 s");

        Score two = r.groups().get(1);
        assertEquals("two objects", two.name());
        assertEquals(new Tally("images", 1, 2), two.images());
        assertEquals(new Tally("second color", 1, 2), two.attribute("second color"));
        assertEquals(new Tally("relation", 1, 2), two.attribute("relation"));
        assertEquals(0.5, two.medianSeconds(), 1e-12, "median of an even count: the mean of the middle two");

        Score all = r.overall();
        assertEquals(new Tally("images", 2, 5), all.images());
        assertEquals(40.0, all.images().percent(), 1e-12);
        assertEquals(new Tally("objects", 4, 5), all.attribute("objects"));
        assertEquals(new Tally("background", 5, 5), all.attribute("background"));
        assertEquals(0.3, all.medianSeconds(), 1e-12);
    }

    @Test
    @SuppressWarnings("unchecked")
    void jsonHoldsEveryGroupAndEachFailingImage() {
        Report r = ShapesBenchmark.report(new Sampling(2, 7.5, "euler", true), "euler karras", handMade(),
                new ShapesBenchmark.Reconstruction(4, 777, 64, 31.5, Double.POSITIVE_INFINITY));
        Map<String, Object> j = r.toJson();
        assertEquals(Map.of("steps", 2, "guidance", 7.5, "scheduler", "euler", "karras", true, "sampler", "euler karras"), j.get("sampling"));
        List<Map<String, Object>> groups = (List<Map<String, Object>>) j.get("groups");
        assertEquals(List.of("seen", "two objects"), groups.stream().map(g -> g.get("name")).toList());
        assertEquals(3, groups.get(0).get("total"));
        Map<String, Object> colour = (Map<String, Object>) ((Map<String, Object>) groups.get(0).get("attributes")).get("color");
        assertEquals(1, colour.get("correct"));
        List<Map<String, Object>> failures = (List<Map<String, Object>>) j.get("failures");
        assertEquals(List.of(1, 2, 3), failures.stream().map(f -> f.get("index")).toList());
        assertEquals("color: expected x, found y; position: expected x, found y", failures.get(0).get("failures"));
        Map<String, Object> vae = (Map<String, Object>) j.get("vae_reconstruction");
        assertEquals(31.5, vae.get("mean_psnr_db"));
        assertNull(vae.get("min_psnr_db"), "an infinite PSNR (identical images) has no JSON number");
        dev.ldm4j.weights.JsonWriter.pretty(j);                                    // writable as JSON
        String table = r.table();
        assertTrue(table.lines().anyMatch(l -> l.matches(" +second color +1/2 +50\\.0%")), table);
        assertTrue(table.contains("all: 2/5 images correct (40.0%)"), table);
    }

    @Test
    void limitTakesTheFirstPromptsOfEachChosenGroup() {
        List<EvalPrompt> p = ShapesBenchmark.prompts(EnumSet.of(Group.TWO_OBJECTS, Group.SEEN), 2);
        assertEquals(List.of(EvalPromptSet.group(Group.SEEN).get(0), EvalPromptSet.group(Group.SEEN).get(1),
                EvalPromptSet.group(Group.TWO_OBJECTS).get(0), EvalPromptSet.group(Group.TWO_OBJECTS).get(1)), p);
        assertEquals(EvalPromptSet.all(), ShapesBenchmark.prompts(EnumSet.allOf(Group.class), 1000));
        assertThrows(IllegalArgumentException.class, () -> ShapesBenchmark.prompts(EnumSet.of(Group.SEEN), 0));
    }

    @Test
    void medianOfNothingIsZero() {
        assertEquals(0, ShapesBenchmark.median(new long[0]));
        assertEquals(5, ShapesBenchmark.median(new long[] {9, 5, 1}));
    }
}
