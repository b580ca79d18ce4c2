// One object of a shapes-v1 scene. Lengths are fractions of the image side S: (x, y) is the centre of
// the object's d x d bounding box, y growing downwards.
package dev.ldm4j.train.data;

public record SceneObject(ShapeColor color, ShapeKind shape, SizeClass size, double x, double y, double d) {
    public SceneObject {
        if (color == null || shape == null || size == null) {
            throw new IllegalArgumentException("an object needs a colour, a shape and a size class");
        }
        if (!(d > 0) || !Double.isFinite(x) || !Double.isFinite(y)) {
            throw new IllegalArgumentException("an object needs a positive side and a finite centre, got d=" + d + " at (" + x + ", " + y + ")");
        }
    }

    public ColoredShape coloredShape() {
        return new ColoredShape(color, shape);
    }

    /** The third of the image (column, row) the bounding-box centre falls in. */
    public Placement placement() {
        return Placement.ofPoint(x, y);
    }
}
