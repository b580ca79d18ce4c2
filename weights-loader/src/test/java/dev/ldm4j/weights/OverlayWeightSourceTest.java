// An overlay replaces the tensors it is given (stored in the dtype asked for, rounded to nearest, a
// new shape allowed) and presents every other tensor of its base as it is; closing it frees only
// the replacements.
package dev.ldm4j.weights;

import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class OverlayWeightSourceTest {
    @Test
    void replacesInTheAskedDtypeAndKeepsTheRest() {
        Tensor kept = Tensor.of(new float[] {7, 8}, 2);
        MapWeightSource base = new MapWeightSource("base").put("a", Tensor.zeros(2, 2)).put("b", kept);
        float[] values = {1f / 3, 65519f, -1e-8f, 2, 3, 4};
        OverlayWeightSource o = OverlayWeightSource.builder(base, "test").replace("a", values, new int[] {3, 2}, DType.F16).build();
        assertEquals(base.names(), o.names());
        assertEquals(new TensorInfo("a", DType.F16, new int[] {3, 2}), o.info("a"));
        float[] got = o.tensor("a").toFloatArray();
        for (int i = 0; i < values.length; i++) {
            assertEquals(Float.float16ToFloat(Float.floatToFloat16(values[i])), got[i], "element " + i + " rounded to nearest F16");
        }
        assertSame(kept, o.tensor("b"));
        assertEquals("base + test", o.origin());
        OverlayWeightSource bf = OverlayWeightSource.builder(base, "bf").replace("b", new float[] {1.00390625f, 3}, new int[] {2}, DType.BF16).build();
        assertArrayEquals(new float[] {1f, 3f}, bf.tensor("b").toFloatArray(), "1 + 2^-8 is a tie, rounded to even");
        o.close();
        assertThrows(WeightException.class, () -> o.tensor("a"));
        assertSame(kept, base.tensor("b"), "the base stays open");
        assertThrows(WeightException.class, () -> OverlayWeightSource.builder(base, "x").replace("c", new float[] {1}, new int[] {1}, DType.F32));
        assertThrows(WeightException.class, () -> OverlayWeightSource.builder(base, "x").replace("a", new float[] {1}, new int[] {1}, DType.I32));
    }
}
