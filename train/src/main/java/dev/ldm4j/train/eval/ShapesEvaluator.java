// Judges whether an image shows what a shapes-v1 prompt asks for: the image is parsed
// (ShapesImageParser), the prompt read (ShapesPrompt), and each stated attribute checked against the
// object that answers for it. The image is correct when it has the asked number of objects and every
// stated attribute is right.
//   one object:  count, [background], [colour], shape, [size], [place], checked on the detected
//                object that matches the most stated attributes (ties: the larger);
//   two objects: count, [background], colour and shape (and size, if stated) of each named object,
//                and the relation: the first's box centre is left of / right of / above / below the
//                second's. The detected objects are matched to the named ones in the way that gets the
//                most attributes right, ties going to the way in which the relation holds (so two
//                objects that look alike are not penalised for the order they were found in).
package dev.ldm4j.train.eval;

import dev.ldm4j.train.data.Rgb8Image;
import dev.ldm4j.train.eval.ShapesImageParser.DetectedObject;
import dev.ldm4j.train.eval.ShapesImageParser.ParsedImage;
import dev.ldm4j.train.eval.ShapesPrompt.IntendedObject;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

public final class ShapesEvaluator {
    private static final String NONE = "none";

    private ShapesEvaluator() {
    }

    /** One stated attribute: what the prompt asked, what the image shows, and whether they agree. */
    public record AttributeCheck(String attribute, String expected, String found, boolean correct) {
        @Override
        public String toString() {
            return attribute + ": " + (correct ? "ok (" + found + ")" : "expected " + expected + ", found " + found);
        }
    }

    /** The verdict on one image: every check, and correct when all pass. */
    public record Judgement(ShapesPrompt prompt, ParsedImage image, List<AttributeCheck> checks, boolean correct) {
        public Judgement {
            checks = List.copyOf(checks);
        }

        /** The check of the named attribute, or null if the prompt did not state it. */
        public AttributeCheck check(String attribute) {
            return checks.stream().filter(c -> c.attribute().equals(attribute)).findFirst().orElse(null);
        }

        /** The failed checks, one line, e.g. "color: expected red, found orange; position: ...". */
        public String failures() {
            return String.join("; ", checks.stream().filter(c -> !c.correct()).map(AttributeCheck::toString).toList());
        }
    }

    /** Judges the image against the prompt; a prompt outside the grammar throws PromptParseException. */
    public static Judgement judge(Rgb8Image image, String prompt) {
        return judge(image, ShapesPrompt.parse(prompt));
    }

    public static Judgement judge(Rgb8Image image, ShapesPrompt prompt) {
        ParsedImage parsed = ShapesImageParser.parse(image);
        List<DetectedObject> found = parsed.objects();
        List<AttributeCheck> checks = new ArrayList<>();
        int want = prompt.objects().size();
        checks.add(check("objects", String.valueOf(want), String.valueOf(found.size())));
        if (prompt.background() != null) {
            checks.add(check("background", prompt.background().word(), parsed.background().word()));
        }
        if (want == 1) {
            IntendedObject o = prompt.objects().getFirst();
            DetectedObject best = null;
            for (DetectedObject d : found) {
                if (best == null || matches(o, d) > matches(o, best) || (matches(o, d) == matches(o, best) && d.area() > best.area())) {
                    best = d;
                }
            }
            objectChecks(checks, "", o, best, true);
        } else {
            pairChecks(checks, prompt, found);
        }
        boolean correct = checks.stream().allMatch(AttributeCheck::correct);
        return new Judgement(prompt, parsed, checks, correct);
    }

    private static void pairChecks(List<AttributeCheck> checks, ShapesPrompt prompt, List<DetectedObject> found) {
        IntendedObject a = prompt.objects().get(0);
        IntendedObject b = prompt.objects().get(1);
        DetectedObject bestA = null;
        DetectedObject bestB = null;
        int bestScore = -1;
        boolean bestHolds = false;
        for (int i = 0; i < found.size(); i++) {
            for (int j = 0; j < found.size(); j++) {
                if (i == j) {
                    continue;
                }
                DetectedObject da = found.get(i);
                DetectedObject db = found.get(j);
                int score = matches(a, da) + matches(b, db);
                boolean holds = prompt.relation().holds(da.x(), da.y(), db.x(), db.y());
                if (score > bestScore || (score == bestScore && holds && !bestHolds)) {
                    bestScore = score;
                    bestHolds = holds;
                    bestA = da;
                    bestB = db;
                }
            }
        }
        if (bestA == null && found.size() == 1) {
            // One object for two names: it answers for the name it matches better.
            DetectedObject only = found.getFirst();
            if (matches(a, only) >= matches(b, only)) {
                bestA = only;
            } else {
                bestB = only;
            }
        }
        objectChecks(checks, "first ", a, bestA, false);
        objectChecks(checks, "second ", b, bestB, false);
        String foundRelation = bestA == null || bestB == null ? NONE : bestHolds ? prompt.relation().phrase() : "not " + prompt.relation().phrase();
        checks.add(check("relation", prompt.relation().phrase(), foundRelation));
    }

    /** The checks of one intended object against the detected one (null: none found). */
    private static void objectChecks(List<AttributeCheck> checks, String prefix, IntendedObject o, DetectedObject d, boolean withPlace) {
        if (o.color() != null) {
            checks.add(check(prefix + "color", o.color().word(), d == null ? NONE : d.color().word()));
        }
        checks.add(check(prefix + "shape", o.shape().word(), d == null ? NONE : d.shape() == null ? "other" : d.shape().word()));
        if (o.size() != null) {
            checks.add(check(prefix + "size", o.size().word(), d == null ? NONE : d.size().word()));
        }
        if (withPlace && o.placement() != null) {
            checks.add(check(prefix + "position", o.placement().phrase(), d == null ? NONE : d.placement().phrase()));
        }
    }

    /** How many of the object's stated attributes the detected object has. */
    private static int matches(IntendedObject o, DetectedObject d) {
        int n = 0;
        n += o.color() != null && o.color() == d.color() ? 1 : 0;
        n += o.shape() == d.shape() ? 1 : 0;
        n += o.size() != null && o.size() == d.size() ? 1 : 0;
        n += o.placement() != null && o.placement() == d.placement() ? 1 : 0;
        return n;
    }

    private static AttributeCheck check(String attribute, String expected, String found) {
        return new AttributeCheck(attribute, expected, found, Objects.equals(expected, found));
    }
}
