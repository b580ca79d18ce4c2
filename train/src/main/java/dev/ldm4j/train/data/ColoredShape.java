// A colour-shape pair. Three pairs are held out of all training (purple triangle, orange circle, green
// square): the generator never draws them, and only the evaluator's "unseen pairs" group asks for them.
package dev.ldm4j.train.data;

import java.util.ArrayList;
import java.util.List;

public record ColoredShape(ShapeColor color, ShapeKind shape) {
    /** The pairs no training scene contains. */
    public static final List<ColoredShape> HELD_OUT = List.of(
            new ColoredShape(ShapeColor.PURPLE, ShapeKind.TRIANGLE),
            new ColoredShape(ShapeColor.ORANGE, ShapeKind.CIRCLE),
            new ColoredShape(ShapeColor.GREEN, ShapeKind.SQUARE));

    /** The 15 pairs the generator draws from, colour-major in enum order (red circle, red square, ...). */
    public static final List<ColoredShape> TRAINING = trainingPairs();

    public ColoredShape {
        if (color == null || shape == null) {
            throw new IllegalArgumentException("a coloured shape needs both a colour and a shape");
        }
    }

    public boolean heldOut() {
        return HELD_OUT.contains(this);
    }

    /** "red circle". */
    public String words() {
        return color.word() + " " + shape.word();
    }

    private static List<ColoredShape> trainingPairs() {
        List<ColoredShape> pairs = new ArrayList<>();
        for (ShapeColor c : ShapeColor.values()) {
            for (ShapeKind s : ShapeKind.values()) {
                ColoredShape p = new ColoredShape(c, s);
                if (!HELD_OUT.contains(p)) {
                    pairs.add(p);
                }
            }
        }
        return List.copyOf(pairs);
    }
}
