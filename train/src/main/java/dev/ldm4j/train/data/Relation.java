// The spatial relations of two-object scenes: the first-named object relative to the second.
package dev.ldm4j.train.data;

public enum Relation {
    LEFT_OF("to the left of"),
    RIGHT_OF("to the right of"),
    ABOVE("above"),
    BELOW("below");

    /** Least and greatest distance between the two centres along the relation's axis. */
    public static final double MIN_SEPARATION = 24.0 / 64;
    public static final double MAX_SEPARATION = 32.0 / 64;

    private final String phrase;

    Relation(String phrase) {
        this.phrase = phrase;
    }

    public String phrase() {
        return phrase;
    }

    /** True for LEFT_OF and RIGHT_OF (compared along x), false for ABOVE and BELOW (along y). */
    public boolean horizontal() {
        return this == LEFT_OF || this == RIGHT_OF;
    }

    /**
     * Whether a first object centred at (x1, y1) stands in this relation to a second at (x2, y2);
     * y grows downwards, so "above" is the smaller y.
     */
    public boolean holds(double x1, double y1, double x2, double y2) {
        return switch (this) {
            case LEFT_OF -> x1 < x2;
            case RIGHT_OF -> x1 > x2;
            case ABOVE -> y1 < y2;
            case BELOW -> y1 > y2;
        };
    }
}
