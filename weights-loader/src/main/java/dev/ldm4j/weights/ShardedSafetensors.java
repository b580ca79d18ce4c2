// A checkpoint split over several .safetensors files, described by a "*.safetensors.index.json"
// whose "weight_map" names the shard holding each tensor (the layout transformers and diffusers
// write for large models). Each shard is opened (memory-mapped) once.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

public final class ShardedSafetensors implements WeightSource {
    private final Path index;
    private final Map<String, SafetensorsFile> shardOf;
    private final Map<String, SafetensorsFile> shards;

    private ShardedSafetensors(Path index, Map<String, SafetensorsFile> shardOf, Map<String, SafetensorsFile> shards) {
        this.index = index;
        this.shardOf = shardOf;
        this.shards = shards;
    }

    /** Opens the index and every shard it names; throws WeightException (one line) on any defect. */
    public static ShardedSafetensors open(Path index) {
        String where = index.toString();
        Map<String, Object> root;
        try {
            root = Json.parseObject(index);
        } catch (Json.JsonException e) {
            throw new WeightException(SafetensorsFile.oneLine(String.valueOf(e.getMessage())));
        }
        if (!(root.get("weight_map") instanceof Map<?, ?> weightMap)) {
            throw SafetensorsFile.fail(where, "missing or malformed \"weight_map\" (expected an object of tensor name -> shard file)");
        }
        Path dir = index.toAbsolutePath().normalize().getParent();
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        Map<String, SafetensorsFile> shardOf = new LinkedHashMap<>();
        try {
            for (Map.Entry<?, ?> e : weightMap.entrySet()) {
                String name = (String) e.getKey();
                if (!(e.getValue() instanceof String file)) {
                    throw SafetensorsFile.fail(where, "weight_map entry " + SafetensorsFile.quote(name) + " is not a file name");
                }
                SafetensorsFile shard = shards.get(file);
                if (shard == null) {
                    Path p = dir.resolve(file).normalize();
                    if (!p.startsWith(dir) || p.equals(dir)) {
                        throw SafetensorsFile.fail(where, "shard " + SafetensorsFile.quote(file) + " is not a file inside " + dir);
                    }
                    if (!Files.exists(p)) {
                        throw SafetensorsFile.fail(where, "shard " + SafetensorsFile.quote(file) + " (for tensor "
                                + SafetensorsFile.quote(name) + ") does not exist");
                    }
                    shard = SafetensorsFile.open(p);
                    shards.put(file, shard);
                }
                if (shard.info(name) == null) {
                    throw SafetensorsFile.fail(where, "weight_map puts tensor " + SafetensorsFile.quote(name) + " in shard "
                            + SafetensorsFile.quote(file) + ", which has no such tensor");
                }
                shardOf.put(name, shard);
            }
        } catch (RuntimeException e) {
            shards.values().forEach(SafetensorsFile::close);
            throw e;
        }
        return new ShardedSafetensors(index, Collections.unmodifiableMap(shardOf), Collections.unmodifiableMap(shards));
    }

    @Override
    public Set<String> names() {
        return shardOf.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        SafetensorsFile shard = shardOf.get(name);
        return shard == null ? null : shard.info(name);
    }

    @Override
    public Tensor tensor(String name) {
        SafetensorsFile shard = shardOf.get(name);
        if (shard == null) {
            throw SafetensorsFile.fail(index.toString(), "no tensor named " + SafetensorsFile.quote(name));
        }
        return shard.tensor(name);
    }

    /** The opened shards, by file name as the index gives it. */
    public Map<String, SafetensorsFile> shards() {
        return shards;
    }

    @Override
    public String origin() {
        return index.toString();
    }

    @Override
    public void close() {
        shards.values().forEach(SafetensorsFile::close);
    }
}
