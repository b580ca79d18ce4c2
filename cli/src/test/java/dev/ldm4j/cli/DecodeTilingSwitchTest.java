package dev.ldm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ldm4j.diffusion.vae.VaeConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/**
 * The automatic switch to a tiled VAE decode (GenerateCommand.decodeNeedsTiles) with SD's VAE (128 channels at full
 * size, tiles of 512 pixels). The estimate is 7 maps of 4 * 128 bytes per pixel plus 0.5 GB: 1.48 GB at 512x512,
 * 15.57 GB at 2048x2048, and 1.63 GB for 2048x2048 in 512-pixel tiles (one tile's maps plus 12 bytes per pixel).
 */
class DecodeTilingSwitchTest {
    private static final long GB = 1_000_000_000L;

    @Test
    void aDecodeThatFitsStaysWholeAndSaysNothing() {
        StringWriter out = new StringWriter();
        assertFalse(GenerateCommand.decodeNeedsTiles(VaeConfig.sd(), 512, 512, 2 * GB, new PrintWriter(out, true)));
        assertEquals("", out.toString());
    }

    @Test
    void aDecodeThatFitsOnlyTiledTurnsTilingOnAndSaysSo() {
        StringWriter out = new StringWriter();
        assertTrue(GenerateCommand.decodeNeedsTiles(VaeConfig.sd(), 2048, 2048, 2 * GB, new PrintWriter(out, true)));
        assertTrue(out.toString().startsWith("ldm4j: decoding 2048x2048 whole needs about 15.6 GB of Java heap and 2.0 GB is free:"
                + " VAE tiling is on (tiles of 512 pixels"), out.toString());
    }

    @Test
    void aDecodeThatDoesNotFitEvenTiledIsRefusedNamingTheHeapToAskFor() {
        StringWriter out = new StringWriter();
        Main.UserError e = assertThrows(Main.UserError.class,
                () -> GenerateCommand.decodeNeedsTiles(VaeConfig.sd(), 2048, 2048, GB, new PrintWriter(out, true)));
        assertEquals("decoding 2048x2048 needs about 15.6 GB of Java heap and this run has 1.0 GB free; raise it with LDM4J_HEAP=15g",
                e.getMessage());
    }

    @Test
    void anImageOfOneTileIsRefusedRatherThanTiledSinceTilesCannotHelp() {
        StringWriter out = new StringWriter();
        Main.UserError e = assertThrows(Main.UserError.class,
                () -> GenerateCommand.decodeNeedsTiles(VaeConfig.sd(), 512, 512, GB, new PrintWriter(out, true)));
        assertTrue(e.getMessage().startsWith("decoding 512x512 needs about 1.5 GB"), e.getMessage());
        assertEquals("", out.toString());
    }
}
