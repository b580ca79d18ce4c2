// The ./ldm4j launcher's AOT cache, run against a stub `java` (a shell script that records its
// arguments and plays the JVM's part) in a copy of the launcher: which runs record the cache, which use
// it, that a build makes it stale, that a failed run leaves none, and that the JVM's notes stay off stderr; and
// which garbage collector each command gets.
package dev.ldm4j.cli;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class LauncherAotTest {
    private static final String STUB_JAVA = """
            #!/usr/bin/env bash
            for a in "$@"; do
              [ "$a" = -XshowSettings:properties ] && { echo '    java.specification.version = 25' >&2; exit 0; }
            done
            printf '%s\\n' "$@" > "$STUB_ARGS"
            out=""
            for a in "$@"; do case $a in -XX:AOTCacheOutput=*) out=${a#*=} ;; esac; done
            echo 'WARNING: Using incubator modules: jdk.incubator.vector' >&2
            if [ -n "$out" ]; then
              echo "Temporary AOTConfiguration recorded: $out.config" >&2
              echo config > "$out.config"
            fi
            if [ "${STUB_FAIL:-0}" = 1 ]; then echo 'stub: failed' >&2; exit 3; fi
            if [ -n "$out" ]; then
              echo cache > "$out"; rm -f "$out.config"
              echo "AOTCache creation is complete: $out 6 bytes" >&2
            fi
            echo 'stub ran'
            """;

    @TempDir
    Path dir;
    private Path root;
    private Path argsFile;

    @BeforeEach
    void setUp() throws IOException {
        Path launcher = Path.of("..", "ldm4j");
        assumeTrue(Files.isRegularFile(launcher) && !System.getProperty("os.name").startsWith("Windows")
                && Stream.of("/bin/bash", "/usr/bin/bash").anyMatch(b -> Files.isExecutable(Path.of(b))),
                "the launcher is a bash script, run from the repository");
        root = dir.resolve("repo");
        Files.createDirectories(root.resolve("cli/target/lib"));
        Files.copy(launcher, root.resolve("ldm4j"));
        Files.writeString(root.resolve("cli/target/ldm4j.jar"), "jar");
        Path java = dir.resolve("jdk/bin/java");
        Files.createDirectories(java.getParent());
        Files.writeString(java, STUB_JAVA);
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(root.resolve("ldm4j"), PosixFilePermissions.fromString("rwxr-xr-x"));
        argsFile = dir.resolve("args.txt");
        // the jar is older than anything the runs write
        Files.setLastModifiedTime(root.resolve("cli/target/ldm4j.jar"), FileTime.fromMillis(System.currentTimeMillis() - 60_000));
        Files.setLastModifiedTime(root.resolve("cli/target/lib"), FileTime.fromMillis(System.currentTimeMillis() - 60_000));
    }

    private record Run(int rc, String out, String err, List<String> args) {}

    private Run run(Map<String, String> env, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("bash", root.resolve("ldm4j").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("JAVA_HOME", dir.resolve("jdk").toString());
        pb.environment().put("LDM4J_NO_BUILD", "1");
        pb.environment().put("STUB_ARGS", argsFile.toString());
        pb.environment().remove("JAVA_OPTS");
        pb.environment().remove("LDM4J_AOT");
        pb.environment().putAll(env);
        Files.deleteIfExists(argsFile);
        Process p = pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        var err = p.getErrorStream();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String e = new String(err.readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        List<String> a = Files.exists(argsFile) ? Files.readAllLines(argsFile) : List.of();
        return new Run(p.exitValue(), out, e, a);
    }

    private List<Path> aotDirFiles() throws IOException {
        Path d = root.resolve("cli/target/aot");
        if (!Files.isDirectory(d)) return List.of();
        try (Stream<Path> s = Files.list(d)) {
            return s.sorted().toList();
        }
    }

    private static boolean has(List<String> args, String prefix) {
        return args.stream().anyMatch(a -> a.startsWith(prefix));
    }

    @Test
    void theFirstGenerateRunRecordsTheCacheAndLaterRunsUseItQuietly() throws Exception {
        Run version = run(Map.of(), "--version");
        assertEquals(0, version.rc(), version.err());
        assertFalse(has(version.args(), "-XX:AOTCache"), "no cache yet, and --version does not record one: " + version.args());
        assertTrue(aotDirFiles().isEmpty());

        Run help = run(Map.of(), "generate", "--help");
        assertFalse(has(help.args(), "-XX:AOTCache"), "a help run is no training run: " + help.args());

        Run record = run(Map.of(), "generate", "--prompt", "a red circle");
        assertEquals(0, record.rc(), record.err());
        assertEquals("stub ran\n", record.out());
        assertEquals("", record.err(), "the JVM's notes on writing the cache stay off stderr");
        assertTrue(has(record.args(), "-XX:AOTCacheOutput=") && record.args().contains("-Xlog:aot=off,cds=off"), record.args().toString());
        assertTrue(record.args().indexOf("generate") > record.args().indexOf("-jar"), record.args().toString());
        List<Path> files = aotDirFiles();
        assertEquals(1, files.size(), files.toString());
        assertTrue(files.getFirst().getFileName().toString().matches("ldm4j-\\d+\\.aot"), files.toString());

        Run use = run(Map.of(), "models");
        assertEquals(0, use.rc(), use.err());
        assertEquals("", use.err());
        assertTrue(use.args().contains("-XX:AOTCache=" + files.getFirst()), use.args().toString());
        assertFalse(has(use.args(), "-XX:AOTCacheOutput"));

        Run off = run(Map.of("LDM4J_AOT", "0"), "models");
        assertFalse(has(off.args(), "-XX:AOT"), "LDM4J_AOT=0: " + off.args());

        Run ownOpts = run(Map.of("JAVA_OPTS", "-Xss8m"), "models");
        assertFalse(has(ownOpts.args(), "-XX:AOT"), "another JAVA_OPTS has a cache of its own, not yet recorded: " + ownOpts.args());
    }

    @Test
    void samplingRunsWithG1TrainingWithParallelGCAndACollectorInJavaOptsWins() throws Exception {
        Run generate = run(Map.of("LDM4J_AOT", "0"), "generate", "--prompt", "x");
        assertTrue(generate.args().contains("-XX:+UseG1GC") && !generate.args().contains("-XX:+UseParallelGC"), generate.args().toString());
        for (String command : List.of("train", "distill")) {
            Run r = run(Map.of("LDM4J_AOT", "0"), command, "--help");
            assertTrue(r.args().contains("-XX:+UseParallelGC") && !r.args().contains("-XX:+UseG1GC"), command + ": " + r.args());
        }
        Run own = run(Map.of("LDM4J_AOT", "0", "JAVA_OPTS", "-Xss8m -XX:+UseSerialGC"), "generate", "--prompt", "x");
        assertTrue(own.args().contains("-XX:+UseSerialGC"), own.args().toString());
        assertFalse(own.args().contains("-XX:+UseG1GC") || own.args().contains("-XX:+UseParallelGC"),
                "the launcher's collector would clash with the one in JAVA_OPTS: " + own.args());
        Run other = run(Map.of("LDM4J_AOT", "0", "JAVA_OPTS", "-XX:+UseGCOverheadLimit"), "generate", "--prompt", "x");
        assertTrue(other.args().contains("-XX:+UseG1GC"), "a GC option that picks no collector keeps the launcher's: " + other.args());
    }

    @Test
    void aBuildMakesTheCacheStaleAndAFailedRunLeavesNone() throws Exception {
        assertEquals(0, run(Map.of(), "generate", "--prompt", "x").rc());
        assertEquals(1, aotDirFiles().size());

        Files.setLastModifiedTime(root.resolve("cli/target/ldm4j.jar"), FileTime.fromMillis(System.currentTimeMillis() + 5_000));
        Run stale = run(Map.of(), "--version");
        assertFalse(has(stale.args(), "-XX:AOT"), "a jar newer than the cache: " + stale.args());
        assertTrue(aotDirFiles().isEmpty(), "the stale cache is removed: " + aotDirFiles());

        Run failed = run(Map.of("STUB_FAIL", "1"), "generate", "--prompt", "x");
        assertEquals(3, failed.rc());
        assertEquals("stub: failed\n", failed.err());
        assertTrue(has(failed.args(), "-XX:AOTCacheOutput="));
        assertTrue(aotDirFiles().isEmpty(), "neither a cache nor its temporary files after a failed run: " + aotDirFiles());
    }
}
