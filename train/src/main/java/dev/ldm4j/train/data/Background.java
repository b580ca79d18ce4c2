// The three uniform backgrounds of shapes-v1, with their caption word and 8-bit RGB value.
package dev.ldm4j.train.data;

public enum Background {
    WHITE("white", 240, 240, 240),
    GRAY("gray", 128, 128, 128),
    BLACK("black", 24, 24, 24);

    private final String word;
    private final int[] rgb;

    Background(String word, int r, int g, int b) {
        this.word = word;
        this.rgb = new int[] {r, g, b};
    }

    public String word() {
        return word;
    }

    /** {r, g, b} in 0..255 (a copy). */
    public int[] rgb() {
        return rgb.clone();
    }
}
