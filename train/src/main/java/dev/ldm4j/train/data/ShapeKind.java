// The three filled shapes of shapes-v1. Each fits a d x d bounding box: a circle of diameter d, an
// axis-aligned square of side d, an isosceles triangle with its apex up, base d and height d.
package dev.ldm4j.train.data;

public enum ShapeKind {
    CIRCLE("circle"),
    SQUARE("square"),
    TRIANGLE("triangle");

    private final String word;

    ShapeKind(String word) {
        this.word = word;
    }

    public String word() {
        return word;
    }
}
