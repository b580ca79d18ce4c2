// A WeightSource that presents some tensors of another source under new names (diffusers names),
// each derived by a TensorView. It also remembers which tensors of the underlying source it looked
// at and could not place (unmapped) and which it skipped on purpose (known extras), so a loader can
// report both by name.
package dev.ldm4j.weights.keys;

import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightException;
import dev.ldm4j.weights.WeightSource;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

public final class MappedWeightSource implements WeightSource {
    /** One presented tensor: where it comes from and how. */
    public record Entry(String sourceName, TensorInfo info, TensorView view) {
    }

    private final WeightSource source;
    private final String description;
    private final Map<String, Entry> entries;
    private final List<String> unmapped;
    private final List<String> ignored;

    private MappedWeightSource(WeightSource source, String description, Map<String, Entry> entries,
                               List<String> unmapped, List<String> ignored) {
        this.source = source;
        this.description = description;
        this.entries = Collections.unmodifiableMap(entries);
        this.unmapped = List.copyOf(unmapped);
        this.ignored = List.copyOf(ignored);
    }

    public static Builder builder(WeightSource source, String description) {
        return new Builder(source, description);
    }

    @Override
    public Set<String> names() {
        return entries.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        Entry e = entries.get(name);
        return e == null ? null : e.info();
    }

    @Override
    public Tensor tensor(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new WeightException(origin() + ": no tensor '" + name + "'");
        }
        return e.view().apply(source.tensor(e.sourceName()));
    }

    @Override
    public String origin() {
        return source.origin() + " [" + description + "]";
    }

    /** The presented tensors with their sources, in presentation order. */
    public Map<String, Entry> entries() {
        return entries;
    }

    /** Tensors of the underlying source in this component's part that no diffusers name was found for. */
    public List<String> unmapped() {
        return unmapped;
    }

    /** Tensors of the underlying source in this component's part that are known not to be model weights. */
    public List<String> ignored() {
        return ignored;
    }

    /** The underlying source (not closed by this view). */
    public WeightSource source() {
        return source;
    }

    /** Collects entries; a second tensor under one presented name is an error. */
    public static final class Builder {
        private final WeightSource source;
        private final String description;
        private final Map<String, Entry> entries = new LinkedHashMap<>();
        private final List<String> unmapped = new ArrayList<>();
        private final List<String> ignored = new ArrayList<>();

        private Builder(WeightSource source, String description) {
            this.source = source;
            this.description = description;
        }

        public Builder map(String target, String sourceName, TensorView view) {
            TensorInfo si = source.info(sourceName);
            if (si == null) {
                throw new WeightException(source.origin() + ": no tensor '" + sourceName + "'");
            }
            TensorInfo info = new TensorInfo(target, si.dtype(), view.shape(sourceName, si.shape()));
            Entry previous = entries.putIfAbsent(target, new Entry(sourceName, info, view));
            if (previous != null) {
                throw new WeightException(source.origin() + ": tensors '" + previous.sourceName() + "' and '" + sourceName
                        + "' both map to '" + target + "'");
            }
            return this;
        }

        public Builder unmapped(String sourceName) {
            unmapped.add(sourceName);
            return this;
        }

        public Builder ignored(String sourceName) {
            ignored.add(sourceName);
            return this;
        }

        public MappedWeightSource build() {
            return new MappedWeightSource(source, description, entries, unmapped, ignored);
        }
    }
}
