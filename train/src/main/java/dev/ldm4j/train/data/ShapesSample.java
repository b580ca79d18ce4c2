// One shapes-v1 sample: the scene drawn for an index and its caption.
package dev.ldm4j.train.data;

public record ShapesSample(long index, Scene scene, String caption) {
}
