// The six object colours of shapes-v1, with their caption word and 8-bit RGB value.
package dev.ldm4j.train.data;

public enum ShapeColor {
    RED("red", 220, 40, 40),
    ORANGE("orange", 240, 140, 30),
    YELLOW("yellow", 235, 215, 40),
    GREEN("green", 40, 170, 70),
    BLUE("blue", 40, 90, 220),
    PURPLE("purple", 150, 60, 200);

    private final String word;
    private final int[] rgb;

    ShapeColor(String word, int r, int g, int b) {
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
