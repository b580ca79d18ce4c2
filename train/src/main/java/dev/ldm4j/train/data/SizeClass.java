// The two size classes of shapes-v1: the bounding-box side d, as a fraction of the image side, is the
// nominal value plus uniform jitter in [-jitter, +jitter].
package dev.ldm4j.train.data;

public enum SizeClass {
    SMALL("small", 0.25, 1.0 / 64),
    LARGE("large", 0.47, 2.0 / 64);

    private final String word;
    private final double nominal;
    private final double jitter;

    SizeClass(String word, double nominal, double jitter) {
        this.word = word;
        this.nominal = nominal;
        this.jitter = jitter;
    }

    public String word() {
        return word;
    }

    /** The nominal side d (fraction of the image side). */
    public double nominal() {
        return nominal;
    }

    /** The half-width of the uniform jitter on d (fraction of the image side). */
    public double jitter() {
        return jitter;
    }
}
