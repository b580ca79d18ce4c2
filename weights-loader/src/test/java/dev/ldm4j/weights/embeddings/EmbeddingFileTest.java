// Reading textual-inversion files: the A1111 and diffusers layouts give their vectors, count and
// width; the default token is the file name; what is not an embedding is refused in one line.
package dev.ldm4j.weights.embeddings;

import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EmbeddingFileTest {
    private static Path write(Path dir, String name, Map<String, Tensor> tensors) {
        Path f = dir.resolve(name);
        SafetensorsWriter.write(f, tensors);
        return f;
    }

    @Test
    void eachLayoutGivesItsVectors(@TempDir Path dir) {
        float[] v = {1, 2, 3, 4, 5, 6};
        EmbeddingFile a = EmbeddingFile.open(write(dir, "bad-hands.v2.safetensors", Map.of("emb_params", Tensor.of(v, 2, 3))));
        assertEquals(EmbeddingFile.Layout.A1111_EMB_PARAMS, a.layout());
        assertEquals(2, a.count());
        assertEquals(3, a.width());
        assertArrayEquals(v, a.vectors());
        assertEquals("bad-hands.v2", a.defaultToken());
        assertNull(a.storedToken());

        EmbeddingFile s = EmbeddingFile.open(write(dir, "s.safetensors", Map.of("string_to_param.*", Tensor.of(v, 3, 2))));
        assertEquals(EmbeddingFile.Layout.A1111_STRING_TO_PARAM, s.layout());
        assertEquals(3, s.count());

        EmbeddingFile d = EmbeddingFile.open(write(dir, "learned_embeds.safetensors", Map.of("<cat-toy>", Tensor.of(v, 6))));
        assertEquals(EmbeddingFile.Layout.DIFFUSERS, d.layout());
        assertEquals(1, d.count());
        assertEquals(6, d.width());
        assertEquals("<cat-toy>", d.storedToken());
        assertNull(EmbeddingFile.open(write(dir, "e.safetensors", Map.of("learned_embeds", Tensor.of(v, 6)))).storedToken());
    }

    @Test
    void whatIsNotAnEmbeddingIsRefusedInOneLine(@TempDir Path dir) {
        Path[] bad = {
                write(dir, "two.safetensors", Map.of("a", Tensor.zeros(3), "b", Tensor.zeros(3))),
                write(dir, "cube.safetensors", Map.of("emb_params", Tensor.zeros(1, 2, 3))),
                write(dir, "many.safetensors", Map.of("emb_params", Tensor.zeros(76, 3))),
                write(dir, "nan.safetensors", Map.of("emb_params", Tensor.of(new float[] {0, Float.NaN}, 1, 2))),
                write(dir, "xl.safetensors", Map.of("clip_l", Tensor.zeros(1, 768), "clip_g", Tensor.zeros(1, 1280))),
                write(dir, "params.safetensors", Map.of("string_to_param.a", Tensor.zeros(1, 3), "string_to_param.b", Tensor.zeros(1, 3)))};
        String[] says = {"not a textual-inversion embedding", "expected floating-point vectors", "room for 75", "not finite", "SDXL",
                "none is '*'"};
        for (int i = 0; i < bad.length; i++) {
            Path f = bad[i];
            EmbeddingException e = assertThrows(EmbeddingException.class, () -> EmbeddingFile.open(f));
            assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains(says[i]) && !e.getMessage().contains("\n"),
                    e.getMessage());
        }
    }
}
