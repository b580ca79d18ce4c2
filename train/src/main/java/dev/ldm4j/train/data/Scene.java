// What one shapes-v1 image shows: a uniform background and one or two objects. For two objects,
// relation says where objects().get(0) (the first named in the caption) is relative to objects().get(1).
package dev.ldm4j.train.data;

import java.util.List;

public record Scene(Background background, List<SceneObject> objects, Relation relation) {
    public Scene {
        if (background == null || objects == null) {
            throw new IllegalArgumentException("a scene needs a background and a list of objects");
        }
        objects = List.copyOf(objects);
        if (objects.size() < 1 || objects.size() > 2) {
            throw new IllegalArgumentException("a scene holds one or two objects, got " + objects.size());
        }
        if ((objects.size() == 2) != (relation != null)) {
            throw new IllegalArgumentException("a relation is given exactly when the scene has two objects");
        }
    }

    public static Scene single(Background background, SceneObject object) {
        return new Scene(background, List.of(object), null);
    }

    public static Scene pair(Background background, SceneObject first, SceneObject second, Relation relation) {
        return new Scene(background, List.of(first, second), relation);
    }
}
