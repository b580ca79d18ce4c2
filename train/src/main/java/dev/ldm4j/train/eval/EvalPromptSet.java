// The fixed shapes-v1 evaluation prompts, each with a fixed sampling seed, in three groups. Every
// prompt states every attribute its kind of caption can carry (the background always; size and place
// for one object), so each is checked. The prompts are built by formula, not drawn, so the set is
// plain to read and never changes; P = ColoredShape.TRAINING (15 pairs, colour-major), H =
// ColoredShape.HELD_OUT, Placement/SizeClass/Background/Relation in enum order:
//   SEEN (48, seeds 1000 + i):   pair P[i mod 15], size i mod 2, place i mod 9,
//                                background (i + floor(i / 15)) mod 3. Each pair comes 3 times (the
//                                first three pairs 4), in both sizes, three places, every background;
//                                each colour 6 to 12 times, each shape 16, each place 5 or 6.
//   UNSEEN_PAIRS (12, 2000 + i): i = 3r + j, pair H[j], size (r + j) mod 2, place (2r + 3j) mod 9,
//                                background (r + 2j) mod 3: each held-out pair in four places,
//                                all nine places used, both sizes, every background.
//   TWO_OBJECTS (24, 3000 + i):  P[7i mod 15] relation i mod 4 P[(7i + 5) mod 15] (always two
//                                different colours), background i mod 3: every pair comes first at
//                                least once, each relation 6 times.
package dev.ldm4j.train.eval;

import dev.ldm4j.train.data.Background;
import dev.ldm4j.train.data.ColoredShape;
import dev.ldm4j.train.data.Placement;
import dev.ldm4j.train.data.Relation;
import dev.ldm4j.train.data.SizeClass;

import java.util.ArrayList;
import java.util.List;

import static dev.ldm4j.train.data.ShapesDataset.withArticle;

public final class EvalPromptSet {
    public enum Group {
        /** One object, a colour-shape pair seen in training. */
        SEEN,
        /** One object, a held-out colour-shape pair (composition never seen in training). */
        UNSEEN_PAIRS,
        /** Two objects in a spatial relation. */
        TWO_OBJECTS
    }

    /** One evaluation prompt and the seed to sample it with. */
    public record EvalPrompt(Group group, String prompt, long seed) {
    }

    public static final int SEEN_COUNT = 48;
    public static final int UNSEEN_COUNT = 12;
    public static final int TWO_OBJECT_COUNT = 24;

    private static final List<EvalPrompt> ALL = build();

    private EvalPromptSet() {
    }

    /** All 84 prompts: SEEN, then UNSEEN_PAIRS, then TWO_OBJECTS. */
    public static List<EvalPrompt> all() {
        return ALL;
    }

    public static List<EvalPrompt> group(Group group) {
        return ALL.stream().filter(p -> p.group() == group).toList();
    }

    private static List<EvalPrompt> build() {
        List<ColoredShape> p = ColoredShape.TRAINING;
        List<ColoredShape> h = ColoredShape.HELD_OUT;
        SizeClass[] sizes = SizeClass.values();
        Placement[] places = Placement.values();
        Background[] bgs = Background.values();
        Relation[] relations = Relation.values();
        List<EvalPrompt> out = new ArrayList<>();
        for (int i = 0; i < SEEN_COUNT; i++) {
            String text = single(sizes[i % 2], p.get(i % 15), places[i % 9], bgs[(i + i / 15) % 3]);
            out.add(new EvalPrompt(Group.SEEN, text, 1000 + i));
        }
        for (int i = 0; i < UNSEEN_COUNT; i++) {
            int r = i / 3;
            int j = i % 3;
            String text = single(sizes[(r + j) % 2], h.get(j), places[(2 * r + 3 * j) % 9], bgs[(r + 2 * j) % 3]);
            out.add(new EvalPrompt(Group.UNSEEN_PAIRS, text, 2000 + i));
        }
        for (int i = 0; i < TWO_OBJECT_COUNT; i++) {
            String text = withArticle(p.get(7 * i % 15).words()) + " " + relations[i % 4].phrase() + " "
                    + withArticle(p.get((7 * i + 5) % 15).words()) + " on a " + bgs[i % 3].word() + " background";
            out.add(new EvalPrompt(Group.TWO_OBJECTS, text, 3000 + i));
        }
        return List.copyOf(out);
    }

    private static String single(SizeClass size, ColoredShape look, Placement place, Background bg) {
        return withArticle(size.word() + " " + look.words()) + " " + place.phrase() + " on a " + bg.word() + " background";
    }
}
