// The scene a shapes-v1 prompt asks for, holding only what the prompt states (null where it is
// silent), read with the dataset's caption grammar, every phrase but the shape optional:
//   prompt := object ( relation object | [place] ) [ "on" article background "background" ]
//   object := article [size] [color] shape
// e.g. "a large red circle in the top left on a white background", "an orange square",
// "a blue triangle above a yellow circle on a black background". Case and a final '.' are ignored;
// "a" and "an" are both accepted before any word.
package dev.ldm4j.train.eval;

import dev.ldm4j.train.data.Background;
import dev.ldm4j.train.data.ColoredShape;
import dev.ldm4j.train.data.Placement;
import dev.ldm4j.train.data.Relation;
import dev.ldm4j.train.data.Scene;
import dev.ldm4j.train.data.SceneObject;
import dev.ldm4j.train.data.SceneSampler;
import dev.ldm4j.train.data.ShapeColor;
import dev.ldm4j.train.data.ShapeKind;
import dev.ldm4j.train.data.SizeClass;
import dev.ldm4j.train.data.SplitMix64;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

public record ShapesPrompt(String text, Background background, List<IntendedObject> objects, Relation relation) {
    /** One object as the prompt states it; null fields are not stated (the shape always is). */
    public record IntendedObject(ShapeColor color, ShapeKind shape, SizeClass size, Placement placement) {
        public IntendedObject {
            if (shape == null) {
                throw new IllegalArgumentException("an intended object names its shape");
            }
        }
    }

    public ShapesPrompt {
        objects = List.copyOf(objects);
        if (objects.size() < 1 || objects.size() > 2 || (objects.size() == 2) != (relation != null)) {
            throw new IllegalArgumentException("a prompt asks for one object, or two in a relation");
        }
    }

    /** Reads a prompt; throws PromptParseException naming the word where it departs from the grammar. */
    public static ShapesPrompt parse(String prompt) {
        return new Reader(prompt).prompt();
    }

    /**
     * A scene that satisfies this prompt, what it leaves unstated drawn from rng: the background, then
     * per unstated attribute of a single object its colour (among those not held out with the shape),
     * size class and place, then the jittered object (SceneSampler.single); for two objects, any
     * unstated colour, then SceneSampler.pair (both small; stated sizes are ignored, as the dataset
     * has only small pairs). Held-out pairs are drawn when asked for.
     */
    public Scene sampleScene(SplitMix64 rng) {
        Background bg = background != null ? background : Background.values()[rng.nextInt(Background.values().length)];
        if (objects.size() == 1) {
            IntendedObject o = objects.getFirst();
            ColoredShape look = new ColoredShape(o.color() != null ? o.color() : trainingColor(o.shape(), rng), o.shape());
            SizeClass size = o.size() != null ? o.size() : SizeClass.values()[rng.nextInt(SizeClass.values().length)];
            Placement place = o.placement() != null ? o.placement() : Placement.values()[rng.nextInt(Placement.values().length)];
            return Scene.single(bg, SceneSampler.single(look, size, place, rng));
        }
        IntendedObject a = objects.get(0);
        IntendedObject b = objects.get(1);
        ColoredShape first = new ColoredShape(a.color() != null ? a.color() : trainingColor(a.shape(), rng), a.shape());
        ColoredShape second = new ColoredShape(b.color() != null ? b.color() : trainingColor(b.shape(), rng), b.shape());
        List<SceneObject> pair = SceneSampler.pair(first, second, relation, rng);
        return Scene.pair(bg, pair.get(0), pair.get(1), relation);
    }

    private static ShapeColor trainingColor(ShapeKind shape, SplitMix64 rng) {
        List<ShapeColor> colors = Arrays.stream(ShapeColor.values()).filter(c -> !new ColoredShape(c, shape).heldOut()).toList();
        return colors.get(rng.nextInt(colors.size()));
    }

    /** Recursive descent over the words of the prompt. */
    private static final class Reader {
        private final String prompt;
        private final String[] words;
        private int at;

        Reader(String prompt) {
            this.prompt = prompt;
            String t = prompt == null ? "" : prompt.strip().toLowerCase(Locale.ROOT);
            if (t.endsWith(".")) {
                t = t.substring(0, t.length() - 1).strip();
            }
            this.words = t.isEmpty() ? new String[0] : t.split("\\s+");
        }

        ShapesPrompt prompt() {
            List<IntendedObject> objects = new ArrayList<>();
            objects.add(object());
            Relation relation = null;
            for (Relation r : Relation.values()) {
                if (accept(r.phrase())) {
                    relation = r;
                    objects.add(object());
                    break;
                }
            }
            if (relation == null) {
                for (Placement p : Placement.values()) {
                    if (accept(p.phrase())) {
                        IntendedObject o = objects.getFirst();
                        objects.set(0, new IntendedObject(o.color(), o.shape(), o.size(), p));
                        break;
                    }
                }
            }
            Background background = null;
            if (accept("on")) {
                article();
                background = word(Background.values(), Background::word);
                if (background == null) {
                    throw fail("a background colour (white, gray, black)");
                }
                expect("background");
            }
            if (at < words.length) {
                throw fail(relation == null ? "a place, a relation or \"on a ... background\"" : "\"on a ... background\"");
            }
            return new ShapesPrompt(prompt, background, objects, relation);
        }

        private IntendedObject object() {
            article();
            SizeClass size = word(SizeClass.values(), SizeClass::word);
            ShapeColor color = word(ShapeColor.values(), ShapeColor::word);
            ShapeKind shape = word(ShapeKind.values(), ShapeKind::word);
            if (shape == null) {
                throw fail(color == null && size == null ? "a size, colour or shape" : "a shape (circle, square, triangle)");
            }
            return new IntendedObject(color, shape, size, null);
        }

        private void article() {
            if (at < words.length && (words[at].equals("a") || words[at].equals("an"))) {
                at++;
                return;
            }
            throw fail("\"a\" or \"an\"");
        }

        private <T> T word(T[] values, java.util.function.Function<T, String> name) {
            if (at < words.length) {
                for (T v : values) {
                    if (name.apply(v).equals(words[at])) {
                        at++;
                        return v;
                    }
                }
            }
            return null;
        }

        /** Consumes the words of the phrase if they come next. */
        private boolean accept(String phrase) {
            String[] p = phrase.split(" ");
            if (at + p.length > words.length) {
                return false;
            }
            for (int i = 0; i < p.length; i++) {
                if (!words[at + i].equals(p[i])) {
                    return false;
                }
            }
            at += p.length;
            return true;
        }

        private void expect(String word) {
            if (!accept(word)) {
                throw fail("\"" + word + "\"");
            }
        }

        private PromptParseException fail(String expected) {
            String found = at < words.length ? "\"" + words[at] + "\" (word " + (at + 1) + ")" : "the end";
            return new PromptParseException("not a shapes prompt: \"" + prompt + "\": expected " + expected + ", found " + found);
        }
    }
}
