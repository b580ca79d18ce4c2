// A WeightSource that is another source with some tensors replaced by new values: what a LoRA merge
// (the touched weights) or a textual-inversion embedding (a token table with rows added) leaves
// behind. The replacements live off the Java heap, in memory this source owns and frees on close();
// every other tensor is the base source's own (memory-mapped) view, untouched.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.HalfConversion;
import dev.ldm4j.tensor.SegmentStorage;
import dev.ldm4j.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

public final class OverlayWeightSource implements WeightSource {
    private static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final WeightSource base;
    private final String description;
    private final Map<String, Tensor> replaced;
    private final Arena arena;
    private boolean closed;

    private OverlayWeightSource(WeightSource base, String description, Map<String, Tensor> replaced, Arena arena) {
        this.base = base;
        this.description = description;
        this.replaced = Collections.unmodifiableMap(replaced);
        this.arena = arena;
    }

    /** Collects replacements over base; description says what they are, for origin() ("LoRA", "embeddings"). */
    public static Builder builder(WeightSource base, String description) {
        return new Builder(base, description);
    }

    @Override
    public Set<String> names() {
        return base.names();
    }

    @Override
    public TensorInfo info(String name) {
        Tensor t = replaced.get(name);
        return t == null ? base.info(name) : new TensorInfo(name, t.dtype(), t.shape());
    }

    @Override
    public Tensor tensor(String name) {
        if (closed) {
            throw new WeightException(origin() + ": closed; cannot read tensor '" + name + "'");
        }
        Tensor t = replaced.get(name);
        return t == null ? base.tensor(name) : t;
    }

    @Override
    public String origin() {
        return base.origin() + " + " + description;
    }

    /** The names of the replaced tensors, in the order they were replaced. */
    public Set<String> replacedNames() {
        return replaced.keySet();
    }

    /** The source under the replacements (not closed by this one). */
    public WeightSource base() {
        return base;
    }

    /** Frees the replacements; the base source stays open. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    /** Stores replacement values in a dtype of the checkpoints (F32, F16 or BF16), rounding to nearest. */
    public static final class Builder {
        private final WeightSource base;
        private final String description;
        private final Map<String, Tensor> replaced = new LinkedHashMap<>();
        private final Arena arena = Arena.ofShared();

        private Builder(WeightSource base, String description) {
            this.base = base;
            this.description = description;
        }

        /**
         * Replaces base tensor name (which must exist) with values of the given shape, stored as dtype.
         * The shape may differ from the base tensor's (a token table with rows added).
         */
        public Builder replace(String name, float[] values, int[] shape, DType dtype) {
            if (base.info(name) == null) {
                throw new WeightException(base.origin() + ": no tensor '" + name + "' to replace");
            }
            if (Tensor.numel(shape) != values.length) {
                throw new IllegalArgumentException(name + ": " + values.length + " values for shape " + Arrays.toString(shape));
            }
            MemorySegment seg = arena.allocate((long) values.length * dtype.byteSize(), 8);
            switch (dtype) {
                case F32 -> MemorySegment.copy(values, 0, seg, FLOAT_LE, 0, values.length);
                case F16 -> {
                    for (int i = 0; i < values.length; i++) {
                        seg.setAtIndex(SHORT_LE, i, HalfConversion.f32ToF16(values[i]));
                    }
                }
                case BF16 -> {
                    for (int i = 0; i < values.length; i++) {
                        seg.setAtIndex(SHORT_LE, i, HalfConversion.f32ToBf16(values[i]));
                    }
                }
                default -> throw new WeightException(base.origin() + ": tensor '" + name + "' is " + dtype
                        + "; only F32, F16 and BF16 weights can be replaced");
            }
            replaced.put(name, Tensor.of(new SegmentStorage(seg.asReadOnly(), dtype), shape));
            return this;
        }

        public OverlayWeightSource build() {
            return new OverlayWeightSource(base, description, replaced, arena);
        }

        /** Frees what was stored so far, for a caller that gives up before build(). */
        public void discard() {
            arena.close();
        }
    }
}
