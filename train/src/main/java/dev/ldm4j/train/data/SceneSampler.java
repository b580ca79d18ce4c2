// Jittered objects for shapes-v1 scenes, drawn from a SplitMix64 stream in a fixed order (stated on
// each method), shared by the dataset generator and by the evaluator's renders of prompts.
package dev.ldm4j.train.data;

import java.util.List;

public final class SceneSampler {
    private SceneSampler() {
    }

    /** d = nominal + U(-jitter, +jitter): one draw. */
    public static double diameter(SizeClass size, SplitMix64 rng) {
        return size.nominal() + rng.uniform(-size.jitter(), size.jitter());
    }

    /**
     * One object at a place: draws d, then x = place.x + U(-3/64, 3/64), then y likewise (three draws).
     */
    public static SceneObject single(ColoredShape look, SizeClass size, Placement place, SplitMix64 rng) {
        double d = diameter(size, rng);
        double x = place.x() + rng.uniform(-Placement.JITTER, Placement.JITTER);
        double y = place.y() + rng.uniform(-Placement.JITTER, Placement.JITTER);
        return new SceneObject(look.color(), look.shape(), size, x, y, d);
    }

    /**
     * Two small objects in a relation: draws d of the first, d of the second, then the distance s
     * between centres, U(24/64, 32/64) (three draws). The centres sit at 0.5 -+ s/2 along the relation's axis and at 0.5 across it, so the pair is
     * symmetric about the image centre; the first is the one left of / right of / above / below.
     */
    public static List<SceneObject> pair(ColoredShape first, ColoredShape second, Relation relation, SplitMix64 rng) {
        double d1 = diameter(SizeClass.SMALL, rng);
        double d2 = diameter(SizeClass.SMALL, rng);
        double s = rng.uniform(Relation.MIN_SEPARATION, Relation.MAX_SEPARATION);
        // Offset of the first centre from the image centre along the axis; the second is opposite.
        double off = switch (relation) {
            case LEFT_OF, ABOVE -> -s / 2;
            case RIGHT_OF, BELOW -> s / 2;
        };
        double x1 = relation.horizontal() ? 0.5 + off : 0.5;
        double y1 = relation.horizontal() ? 0.5 : 0.5 + off;
        double x2 = relation.horizontal() ? 0.5 - off : 0.5;
        double y2 = relation.horizontal() ? 0.5 : 0.5 - off;
        return List.of(
                new SceneObject(first.color(), first.shape(), SizeClass.SMALL, x1, y1, d1),
                new SceneObject(second.color(), second.shape(), SizeClass.SMALL, x2, y2, d2));
    }
}
