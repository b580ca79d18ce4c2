// The nine places of a single object: a 3x3 grid of nominal bounding-box centres at 0.25, 0.5 and 0.75
// of the image side, each with its caption phrase. The evaluator reads a place back as the third of
// the image its bounding-box centre falls in.
package dev.ldm4j.train.data;

public enum Placement {
    TOP_LEFT("in the top left", 0, 0),
    TOP("at the top", 1, 0),
    TOP_RIGHT("in the top right", 2, 0),
    LEFT("on the left", 0, 1),
    CENTER("in the center", 1, 1),
    RIGHT("on the right", 2, 1),
    BOTTOM_LEFT("in the bottom left", 0, 2),
    BOTTOM("at the bottom", 1, 2),
    BOTTOM_RIGHT("in the bottom right", 2, 2);

    /** Half-width of the uniform jitter on each axis of the centre (fraction of the image side). */
    public static final double JITTER = 3.0 / 64;

    private final String phrase;
    private final int column;
    private final int row;

    Placement(String phrase, int column, int row) {
        this.phrase = phrase;
        this.column = column;
        this.row = row;
    }

    public String phrase() {
        return phrase;
    }

    /** 0 left, 1 centre, 2 right. */
    public int column() {
        return column;
    }

    /** 0 top, 1 middle, 2 bottom. */
    public int row() {
        return row;
    }

    /** Nominal centre x (fraction of the image side): 0.25, 0.5 or 0.75. */
    public double x() {
        return 0.25 * (column + 1);
    }

    /** Nominal centre y (fraction of the image side, downwards): 0.25, 0.5 or 0.75. */
    public double y() {
        return 0.25 * (row + 1);
    }

    public static Placement of(int column, int row) {
        if (column < 0 || column > 2 || row < 0 || row > 2) {
            throw new IllegalArgumentException("column and row must be 0..2, got " + column + ", " + row);
        }
        return values()[row * 3 + column];
    }

    /** The place whose third of the image holds the point (x, y), both fractions of the side. */
    public static Placement ofPoint(double x, double y) {
        return of(third(x), third(y));
    }

    private static int third(double t) {
        return t < 1.0 / 3 ? 0 : t < 2.0 / 3 ? 1 : 2;
    }
}
