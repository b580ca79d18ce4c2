// Under an ASCII locale (C, POSIX) the JVM turns every non-ASCII byte of the command line into U+FFFD;
// ldm4j refuses such arguments with the fix (a UTF-8 locale) instead of drawing a garbled prompt.
package dev.ldm4j.cli;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ArgumentEncodingTest {
    @Test
    void aReplacementCharacterUnderANonUtf8LocaleIsRefusedWithTheFix() {
        String[] args = {"generate", "--prompt", "caf\uFFFD\uFFFD au lait"};
        String m = Main.undecodedArgument(args, "ANSI_X3.4-1968");
        assertTrue(m != null && m.contains("\"caf?? au lait\" lost its non-ASCII characters") && m.contains("ANSI_X3.4-1968")
                && m.contains("LC_ALL=C.UTF-8"), m);
        assertNull(Main.undecodedArgument(args, "UTF-8"), "under UTF-8, U+FFFD is what the user typed");
        assertNull(Main.undecodedArgument(new String[]{"--prompt", "a cat"}, "ANSI_X3.4-1968"));
    }

    /** The whole path: a JVM started under LC_ALL=C is given the UTF-8 bytes of "café". */
    @Test
    void aJvmUnderTheCLocaleRefusesANonAsciiPrompt() throws Exception {
        assumeTrue(System.getProperty("os.name").startsWith("Linux"), "the C locale's ASCII decoding is what Linux JVMs do");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(List.of(java.toString(), "-cp", System.getProperty("java.class.path"),
                "dev.ldm4j.cli.Main", "tokenize", "--prompt", "caf\u00e9", "--tokenizer", "/no/such/tokenizer"));
        pb.environment().remove("LANG");
        pb.environment().remove("LANGUAGE");
        pb.environment().keySet().removeIf(k -> k.startsWith("LC_"));
        pb.environment().put("LC_ALL", "C");
        Process p = pb.start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue(), err);
        assertTrue(err.contains("ldm4j: error: the argument \"caf?") && err.contains("LC_ALL=C.UTF-8"), err);
    }
}
