// Output files: refused before any work when they could not be written (read-only or missing folder,
// a link to nothing, /sys, two flags naming one file), written with the umask's permissions, and
// replaced (--overwrite) without changing who may read them.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.pipeline.RgbImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class OutputFilesTest {
    private static final RgbImage GREY = new RgbImage(8, 8, new float[8 * 8 * 3]);

    private static String refusal(Path file, String flag, boolean overwrite) {
        return assertThrows(Main.UserError.class, () -> OutputFiles.checkWritable(file, flag, overwrite)).getMessage();
    }

    @Test
    void aNewPngGetsTheUmasksPermissionsNotOwnerOnly(@TempDir Path dir) throws Exception {
        Path reference = Files.createFile(dir.resolve("reference")); // what the umask gives a new file here
        Path png = dir.resolve("new.png");
        PngFiles.write(GREY, png, false);
        assertEquals(Files.getPosixFilePermissions(reference), Files.getPosixFilePermissions(png));
    }

    @Test
    void overwritingAPngKeepsItsPermissions(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("shared.png");
        PngFiles.write(GREY, png, false);
        var mode = PosixFilePermissions.fromString("rw-r-----");
        Files.setPosixFilePermissions(png, mode);
        PngFiles.write(GREY, png, true);
        assertEquals(mode, Files.getPosixFilePermissions(png));
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    @Test
    void refusesAMissingFolder(@TempDir Path dir) {
        Path f = dir.resolve("missing/latents.safetensors");
        assertEquals("cannot write " + f + ": the folder " + dir.resolve("missing") + " does not exist", refusal(f, "--save-latents", false));
    }

    @Test
    void refusesALinkToNothing(@TempDir Path dir) throws Exception {
        Path link = Files.createSymbolicLink(dir.resolve("link.png"), dir.resolve("gone/x.png"));
        String m = refusal(link, "--output", true);
        assertTrue(m.contains("is a symbolic link to " + dir.resolve("gone/x.png") + ", which does not exist"), m);
    }

    @Test
    void refusesAFolderAndAnExistingFile(@TempDir Path dir) throws Exception {
        assertTrue(refusal(dir, "--output", true).contains("is a folder"));
        Path taken = Files.writeString(dir.resolve("taken.png"), "x");
        assertTrue(refusal(taken, "--output", false).contains("exists; pass --overwrite"));
        OutputFiles.checkWritable(taken, "--output", true);
    }

    /** sysfs takes no new files, not even from root. */
    @Test
    void refusesAFolderThatTakesNoNewFile() {
        assumeTrue(Files.isDirectory(Path.of("/sys/kernel")), "no sysfs here");
        assertEquals("cannot write /sys/x.png: permission denied (in /sys)", refusal(Path.of("/sys/x.png"), "--output", false));
    }

    @Test
    void refusesAReadOnlyFolder(@TempDir Path dir) throws Exception {
        Path ro = Files.createDirectory(dir.resolve("ro"));
        Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            assumeTrue(!Files.isWritable(ro), "running as root: permissions do not stop writes");
            assertTrue(refusal(ro.resolve("x.png"), "--output", false).endsWith(": permission denied (in " + ro + ")"));
        } finally {
            Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
    }

    @Test
    void twoSpellingsOfOneFileAreOneFile(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a.png");
        Files.createDirectory(dir.resolve("sub"));
        String m = assertThrows(Main.UserError.class,
                () -> OutputFiles.checkDistinct(a, "--output", dir.resolve("sub/../a.png"), "--save-latents")).getMessage();
        assertTrue(m.contains("name the same file"), m);
        Files.writeString(a, "image");
        Path link = Files.createSymbolicLink(dir.resolve("l.safetensors"), a);
        assertThrows(Main.UserError.class, () -> OutputFiles.checkDistinct(a, "--output", link, "--save-latents"));
        OutputFiles.checkDistinct(a, "--output", dir.resolve("a.safetensors"), "--save-latents");
    }
}
