// Sd15ShapesBench runs what its rows name: each kind of row, on small shapes, gives the backend's own result for
// that call, and its rows are exactly the products and norms of bench/sd15-shapes.tsv.
package dev.ldm4j.bench.ops;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Param;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Sd15ShapesBenchTest {
    private static Tensor operand(int seed, Sd15ShapesBench.Operand o) {
        Tensor r = OpsData.rand(seed, 0.5f, o.shape());
        return o.f16() ? OpsData.f16(r) : r;
    }

    @Test
    void eachKindOfRowMakesTheCallItNames() {
        Backend cpu = OpsData.backend();
        String conv = "conv2d 3x3+add [2, 16, 6, 5] [8, 16, 3, 3] f16 [8] f16 [2, 8, 1, 1]";
        List<Sd15ShapesBench.Operand> c = Sd15ShapesBench.operands(conv);
        assertEquals("conv2d 3x3+add", Sd15ShapesBench.op(conv));
        assertEquals(4, c.size());
        assertTrue(c.get(1).f16() && !c.get(0).f16());
        Tensor expected = cpu.conv2dAdd(operand(1, c.get(0)), operand(2, c.get(1)), operand(3, c.get(2)), 1, 1, 1, 1, 1, operand(4, c.get(3)));
        assertArrayEquals(expected.toFloatArray(), Sd15ShapesBench.call(conv, cpu).get().toFloatArray());

        String down = "conv2d 3x3 s2 [1, 8, 8, 8] [8, 8, 3, 3] [8]";
        List<Sd15ShapesBench.Operand> d = Sd15ShapesBench.operands(down);
        assertArrayEquals(cpu.conv2d(operand(1, d.get(0)), operand(2, d.get(1)), operand(3, d.get(2)), 2, 1).toFloatArray(),
                Sd15ShapesBench.call(down, cpu).get().toFloatArray());

        String attention = "attention (cross) [2, 12, 16] [2, 7, 16] [2, 7, 16]";
        List<Sd15ShapesBench.Operand> a = Sd15ShapesBench.operands(attention);
        assertArrayEquals(cpu.attention(operand(1, a.get(0)), operand(2, a.get(1)), operand(3, a.get(2)), 8, (float) (1 / Math.sqrt(2)), false)
                .toFloatArray(), Sd15ShapesBench.call(attention, cpu).get().toFloatArray());

        String geglu = "linear+geglu [2, 5, 8] [12, 8] f16 [12] f16";
        List<Sd15ShapesBench.Operand> g = Sd15ShapesBench.operands(geglu);
        assertArrayEquals(cpu.linearGeglu(operand(1, g.get(0)), operand(2, g.get(1)), operand(3, g.get(2))).toFloatArray(),
                Sd15ShapesBench.call(geglu, cpu).get().toFloatArray());

        String norm = "groupNorm+silu [1, 64, 4, 4] [64] f16 [64] f16";
        List<Sd15ShapesBench.Operand> n = Sd15ShapesBench.operands(norm);
        assertArrayEquals(cpu.groupNorm(operand(1, n.get(0)), 32, operand(2, n.get(1)), operand(3, n.get(2)), 1e-5f, true).toFloatArray(),
                Sd15ShapesBench.call(norm, cpu).get().toFloatArray());
    }

    @Test
    void rowsAreTheProductsAndNormsOfTheShapeList() throws Exception {
        Set<String> listed = new LinkedHashSet<>();
        List<String> lines = Files.readAllLines(Path.of("sd15-shapes.tsv"));
        for (String line : lines.subList(1, lines.size())) {
            String key = line.split("\t")[1];
            if (key.matches("(conv2d|linear|attention|groupNorm|layerNorm).*")) {
                listed.add(key);
            }
        }
        String[] rows = Sd15ShapesBench.class.getField("row").getAnnotation(Param.class).value();
        assertEquals(List.copyOf(listed), List.of(rows));
        for (String row : rows) {
            assertTrue(!Sd15ShapesBench.operands(row).isEmpty(), row);
        }
    }
}
