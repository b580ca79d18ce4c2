// diffusion's typed errors name the problem without flags; the command line says them with the flags that fix it.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.model.MissingTokenizerException;
import dev.ldm4j.diffusion.model.ModelException;
import dev.ldm4j.diffusion.pipeline.NoDenoisingStepException;
import dev.ldm4j.diffusion.pipeline.UnsupportedRequestException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TypedErrorsTest {
    @Test
    void eachTypedErrorIsSaidWithTheFlagsThatFixIt() {
        String tokenizer = Main.describe(new MissingTokenizerException(Path.of("model.safetensors")));
        assertFalse(new MissingTokenizerException(Path.of("m")).getMessage().contains("--"), "diffusion names no flag");
        assertTrue(tokenizer.startsWith("ldm4j: error: model.safetensors: no tokenizer found"), tokenizer);
        assertTrue(tokenizer.contains("--tokenizer PATH") && tokenizer.contains("--config DIR"), tokenizer);

        NoDenoisingStepException steps = new NoDenoisingStepException(0.1, 3);
        assertFalse(steps.getMessage().contains("--"), "diffusion names no flag");
        assertEquals("ldm4j: error: " + steps.getMessage() + "; raise --strength or --steps", Main.describe(steps));

        UnsupportedRequestException karras = new UnsupportedRequestException(UnsupportedRequestException.Part.KARRAS, "Karras sigmas need a scheduler named");
        assertEquals("ldm4j: error: --karras needs --scheduler (e.g. --scheduler dpmpp_2m --karras)", Main.describe(karras));

        UnsupportedRequestException negative = new UnsupportedRequestException(UnsupportedRequestException.Part.NEGATIVE_PROMPT, "no negative prompt here");
        assertEquals("ldm4j: error: no negative prompt here", Main.describe(negative));

        ModelException config = new ModelException("m.safetensors: widths match no standard model", ModelException.Fix.CONFIG_FOLDER);
        assertEquals("ldm4j: error: m.safetensors: widths match no standard model (--config DIR)", Main.describe(config));
        ModelException noConfig = new ModelException("folder: a config folder is for single-file checkpoints", ModelException.Fix.NO_CONFIG_FOLDER);
        assertTrue(Main.describe(noConfig).endsWith("; leave out --config"), Main.describe(noConfig));
    }
}
