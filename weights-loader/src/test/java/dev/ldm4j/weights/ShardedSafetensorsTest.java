// A checkpoint split in two shards behind a *.safetensors.index.json.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShardedSafetensorsTest {
    @TempDir
    Path dir;

    private Path twoShards(String weightMap) throws IOException {
        Map<String, Tensor> a = new LinkedHashMap<>();
        a.put("a.weight", Tensor.of(new float[]{1, 2, 3, 4}, 2, 2));
        a.put("a.bias", Tensor.of(new float[]{5, 6}, 2));
        SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), a);
        SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), Map.of("b.weight", Tensor.of(new float[]{7}, 1)));
        Path index = dir.resolve("model.safetensors.index.json");
        Files.writeString(index, "{\"metadata\":{\"total_size\":28},\"weight_map\":" + weightMap + "}");
        return index;
    }

    @Test
    void readsTensorsFromTheShardTheIndexNames() throws IOException {
        Path index = twoShards("{\"b.weight\":\"model-00002-of-00002.safetensors\",\"a.weight\":\"model-00001-of-00002.safetensors\","
                + "\"a.bias\":\"model-00001-of-00002.safetensors\"}");
        try (WeightSource s = WeightSources.open(index)) {
            assertTrue(s instanceof ShardedSafetensors);
            assertEquals(List.of("b.weight", "a.weight", "a.bias"), List.copyOf(s.names()));
            assertArrayEquals(new float[]{1, 2, 3, 4}, s.tensor("a.weight").toFloatArray());
            assertArrayEquals(new float[]{7}, s.tensor("b.weight").toFloatArray());
            assertArrayEquals(new int[]{2}, s.info("a.bias").shape());
            assertEquals(2, ((ShardedSafetensors) s).shards().size());
            WeightException e = assertThrows(WeightException.class, () -> s.tensor("c"));
            assertTrue(e.getMessage().contains("index.json") && e.getMessage().contains("'c'"), e.getMessage());
        }
    }

    @Test
    void tensorMissingFromItsShardIsNamed() throws IOException {
        Path index = twoShards("{\"b.weight\":\"model-00001-of-00002.safetensors\"}");
        WeightException e = assertThrows(WeightException.class, () -> ShardedSafetensors.open(index));
        assertTrue(e.getMessage().contains("'b.weight'") && e.getMessage().contains("no such tensor"), e.getMessage());
    }

    @Test
    void missingShardOrEscapingPathIsNamed() throws IOException {
        Path index = twoShards("{\"x\":\"model-00003-of-00003.safetensors\"}");
        WeightException e = assertThrows(WeightException.class, () -> ShardedSafetensors.open(index));
        assertTrue(e.getMessage().contains("model-00003-of-00003.safetensors") && e.getMessage().contains("does not exist"), e.getMessage());
        Files.writeString(index, "{\"weight_map\":{\"x\":\"../elsewhere.safetensors\"}}");
        e = assertThrows(WeightException.class, () -> ShardedSafetensors.open(index));
        assertTrue(e.getMessage().contains("not a file inside"), e.getMessage());
        Files.writeString(index, "{\"weight_map\":[1]}");
        e = assertThrows(WeightException.class, () -> ShardedSafetensors.open(index));
        assertTrue(e.getMessage().contains("weight_map"), e.getMessage());
        Files.writeString(index, "{\"weight_map\":");
        e = assertThrows(WeightException.class, () -> ShardedSafetensors.open(index));
        assertTrue(e.getMessage().contains("model.safetensors.index.json"), e.getMessage());
    }
}
