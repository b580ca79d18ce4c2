// The model hash and its table: the hash is SHA-256's (FIPS 180-4 test vector "abc"), the table is used only
// while the file's size and modification time are unchanged, and a broken table changes nothing.
package dev.ldm4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelHashTest {
    /** SHA-256("abc") = ba7816bf 8f01cfea ... (FIPS 180-4, appendix B.1). */
    static final String ABC = "ba7816bf8f";

    @Test
    void hashesTheFileAndKeepsTheHashWhileTheFileIsUnchanged(@TempDir Path dir) throws Exception {
        Path model = Files.writeString(dir.resolve("m.safetensors"), "abc");
        Path cache = dir.resolve("cache").resolve("model-hashes.tsv");
        assertEquals(ABC, ModelHash.shortHash(model, cache));
        List<String> lines = Files.readAllLines(cache);
        assertEquals(List.of(ABC + "\t" + ModelHash.cacheKey(model)), lines);

        // the table is what answers while size and time match: a planted value comes back
        Files.write(cache, List.of("0123456789\t" + ModelHash.cacheKey(model)));
        assertEquals("0123456789", ModelHash.shortHash(model, cache));

        // a new modification time is a new file: hashed again, and the path's old line replaced
        Files.setLastModifiedTime(model, FileTime.fromMillis(Files.getLastModifiedTime(model).toMillis() - 60_000));
        assertEquals(ABC, ModelHash.shortHash(model, cache));
        assertEquals(List.of(ABC + "\t" + ModelHash.cacheKey(model)), Files.readAllLines(cache));
    }

    @Test
    void aBrokenOrUnwritableTableIsIgnored(@TempDir Path dir) throws Exception {
        Path model = Files.writeString(dir.resolve("m.safetensors"), "abc");
        Path garbage = Files.writeString(dir.resolve("garbage.tsv"), "not\ta\ttable\n\u0000\u0001\nXYZ\t" + ModelHash.cacheKey(model) + "\n");
        assertEquals(ABC, ModelHash.shortHash(model, garbage));
        Path blocked = Files.writeString(dir.resolve("file"), "x").resolve("model-hashes.tsv");   // its parent is a file
        assertEquals(ABC, ModelHash.shortHash(model, blocked));
        assertEquals(ABC, ModelHash.shortHash(model, null));
    }

    @Test
    void keepsOnlyTheMostRecentEntries(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("model-hashes.tsv");
        for (int i = 0; i < ModelHash.CACHE_ENTRIES + 5; i++) {
            ModelHash.remember(cache, "1\t2\t/m" + i, "abcdef0123");
        }
        List<String> lines = Files.readAllLines(cache);
        assertEquals(ModelHash.CACHE_ENTRIES, lines.size());
        assertTrue(lines.getLast().endsWith("/m" + (ModelHash.CACHE_ENTRIES + 4)), lines.getLast());
        assertEquals("abcdef0123", ModelHash.lookup(cache, "1\t2\t/m" + (ModelHash.CACHE_ENTRIES + 4)));
        assertEquals(null, ModelHash.lookup(cache, "1\t2\t/m0"));
    }
}
