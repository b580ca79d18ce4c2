// The built-in model from a clean clone: generate with no --model uses models/shapes at its own defaults,
// --model shapes names it, and ./ldm4j models lists it. (Its quality is measured by ./ldm4j eval shapes and
// recorded in its model card; here only that the shipped folder is complete and runs.)
package dev.ldm4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BuiltinModelTest {
    @Test
    void generateWithoutAModelUsesTheBuiltInShapesModel(@TempDir Path tmp) throws Exception {
        assertTrue(Files.isRegularFile(BuiltinModels.root().resolve("shapes/model_index.json")), "models/shapes is shipped");
        Path png = tmp.resolve("x.png");
        CliTest.Result r = run("generate", "--prompt", "a large blue square on the right", "--seed", "1", "--steps", "3", "--output", png.toString());
        assertEquals(0, r.code(), r.err());
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(64, img.getWidth());
        assertEquals(64, img.getHeight());

        Path named = tmp.resolve("y.png");
        CliTest.Result n = run("generate", "--model", "shapes", "--prompt", "a large blue square on the right", "--seed", "1", "--steps", "3",
                "--output", named.toString());
        assertEquals(0, n.code(), n.err());
        BufferedImage other = ImageIO.read(named.toFile());
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                assertEquals(img.getRGB(x, y), other.getRGB(x, y), "the same model by name, pixel " + x + "," + y);
            }
        }

        CliTest.Result m = run("models");
        assertEquals(0, m.code(), m.err());
        assertTrue(m.out().contains("shapes") && m.out().contains("(default)"), m.out());
    }
}
