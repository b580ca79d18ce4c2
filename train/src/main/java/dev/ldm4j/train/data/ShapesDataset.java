// shapes-v1: a procedural captioned dataset of one or two coloured shapes on a uniform background.
// Sample i of seed s depends only on (s, i): its draws come from SplitMix64.forIndex(s, i), in this
// order (d and centres through SceneSampler):
//   1. two objects?   chance(0.25)
//   2. background     nextInt(3) over WHITE, GRAY, BLACK
// one object:
//   3. look           nextInt(15) over ColoredShape.TRAINING
//   4. size class     nextInt(2) over SMALL, LARGE
//   5. place          nextInt(9) over Placement in enum order
//   6. d, x, y        SceneSampler.single
//   7. size, place, background phrase left out: chance(0.3) each, in that order
// two objects (both small):
//   3. first look     nextInt(15) over ColoredShape.TRAINING
//   4. second look    nextInt(14) over the other 14 pairs (so the two differ in colour or shape)
//   5. relation       nextInt(4) over LEFT_OF, RIGHT_OF, ABOVE, BELOW
//   6. d1, d2, s      SceneSampler.pair
//   7. background phrase left out: chance(0.3)
// Captions: "a {size} {color} {shape} {where} on a {background} background" and
// "a {color} {shape} {relation} a {color} {shape} on a {background} background", "an" before a vowel.
// The held-out pairs (ColoredShape.HELD_OUT) are never drawn.
package dev.ldm4j.train.data;

import java.util.List;

public final class ShapesDataset implements CaptionedImageDataset {
    public static final String NAME = "shapes-v1";
    public static final int DEFAULT_RESOLUTION = 64;
    public static final double TWO_OBJECT_PROBABILITY = 0.25;
    public static final double OMIT_PROBABILITY = 0.3;

    private final long seed;
    private final int resolution;

    public ShapesDataset(long seed) {
        this(seed, DEFAULT_RESOLUTION);
    }

    public ShapesDataset(long seed, int resolution) {
        if (resolution < 8) {
            throw new IllegalArgumentException("shapes-v1 images need a side of at least 8 pixels, got " + resolution);
        }
        this.seed = seed;
        this.resolution = resolution;
    }

    public long seed() {
        return seed;
    }

    @Override
    public int resolution() {
        return resolution;
    }

    /** Every index >= 0 is a sample. */
    @Override
    public long size() {
        return Long.MAX_VALUE;
    }

    /** The scene and caption of sample {@code index}. */
    public ShapesSample sample(long index) {
        if (index < 0) {
            throw new IllegalArgumentException("sample index must be >= 0, got " + index);
        }
        SplitMix64 rng = SplitMix64.forIndex(seed, index);
        boolean two = rng.chance(TWO_OBJECT_PROBABILITY);
        Background background = Background.values()[rng.nextInt(Background.values().length)];
        List<ColoredShape> looks = ColoredShape.TRAINING;
        if (!two) {
            ColoredShape look = looks.get(rng.nextInt(looks.size()));
            SizeClass size = SizeClass.values()[rng.nextInt(SizeClass.values().length)];
            Placement place = Placement.values()[rng.nextInt(Placement.values().length)];
            SceneObject object = SceneSampler.single(look, size, place, rng);
            boolean sizeStated = !rng.chance(OMIT_PROBABILITY);
            boolean placeStated = !rng.chance(OMIT_PROBABILITY);
            boolean backgroundStated = !rng.chance(OMIT_PROBABILITY);
            Scene scene = Scene.single(background, object);
            return new ShapesSample(index, scene, caption(scene, sizeStated, placeStated, backgroundStated));
        }
        int a = rng.nextInt(looks.size());
        int b = rng.nextInt(looks.size() - 1);
        if (b >= a) {
            b++;
        }
        Relation relation = Relation.values()[rng.nextInt(Relation.values().length)];
        List<SceneObject> pair = SceneSampler.pair(looks.get(a), looks.get(b), relation, rng);
        boolean backgroundStated = !rng.chance(OMIT_PROBABILITY);
        Scene scene = Scene.pair(background, pair.get(0), pair.get(1), relation);
        return new ShapesSample(index, scene, caption(scene, false, false, backgroundStated));
    }

    /** Sample {@code index} drawn at this dataset's resolution. */
    public Rgb8Image render(long index) {
        return ShapesRenderer.render(sample(index).scene(), resolution);
    }

    @Override
    public CaptionedImage get(long index) {
        ShapesSample s = sample(index);
        float[] chw = ShapesRenderer.render(s.scene(), resolution).toChw();
        return new CaptionedImage(chw, resolution, resolution, s.caption());
    }

    /**
     * The caption of a scene with the chosen phrases. For one object, the size, place and background
     * phrases appear as asked; for two objects only the background phrase is optional.
     */
    public static String caption(Scene scene, boolean sizeStated, boolean placeStated, boolean backgroundStated) {
        StringBuilder sb = new StringBuilder();
        List<SceneObject> objects = scene.objects();
        if (objects.size() == 1) {
            SceneObject o = objects.getFirst();
            String noun = (sizeStated ? o.size().word() + " " : "") + o.color().word() + " " + o.shape().word();
            sb.append(withArticle(noun));
            if (placeStated) {
                sb.append(' ').append(o.placement().phrase());
            }
        } else {
            SceneObject first = objects.get(0);
            SceneObject second = objects.get(1);
            sb.append(withArticle(first.color().word() + " " + first.shape().word()))
                    .append(' ').append(scene.relation().phrase()).append(' ')
                    .append(withArticle(second.color().word() + " " + second.shape().word()));
        }
        if (backgroundStated) {
            sb.append(" on ").append(withArticle(scene.background().word() + " background"));
        }
        return sb.toString();
    }

    /** "a " + words, or "an " before a vowel. */
    public static String withArticle(String words) {
        return ("aeiou".indexOf(words.charAt(0)) >= 0 ? "an " : "a ") + words;
    }
}
