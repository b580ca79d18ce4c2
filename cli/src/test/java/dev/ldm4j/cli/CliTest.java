// Runs the CLI in-process and checks exit codes and the one-line messages users see.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class CliTest {
    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    static void assertOneLineError(Result r, String fragment) {
        assertTrue(r.code() != 0, "exit code should be non-zero");
        String[] lines = r.err().strip().split("\n");
        String last = lines[lines.length - 1]; // progress lines (model loaded, ...) may come before it
        assertTrue(last.startsWith("ldm4j: error: ") && last.contains(fragment), "error line should mention '" + fragment + "': " + r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }

    @Test
    void helpListsTheSubcommands() {
        Result r = run("--help");
        assertEquals(0, r.code());
        for (String cmd : List.of("generate", "inspect", "tokenize", "random-weights")) {
            assertTrue(r.out().contains(cmd), "help should list " + cmd);
        }
    }

    @Test
    void unknownOptionIsAUsageError() {
        Result r = run("--no-such-option");
        assertEquals(2, r.code());
        assertTrue(r.err().startsWith("ldm4j: Unknown option"), r.err());
    }

    @Test
    void tokenizeWithoutATokenizerSaysWhatToPass() {
        assertOneLineError(run("tokenize", "--prompt", "a cat"), "--tokenizer");
    }

    @Test
    void tokenizeMissingTokenizerPathNamesIt() {
        assertOneLineError(run("tokenize", "--prompt", "a cat", "--tokenizer", "/no/such/dir"), "/no/such/dir");
    }

    @Test
    @SuppressWarnings("unchecked")
    void tokenizePrintsTheReferenceIds() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        Object golden = Json.parse(SharedFixtures.clip().resolve("tokenizer_golden.json"));
        Map<String, Object> first = firstCase(golden);
        String prompt = (String) first.get("prompt");
        List<Object> expected = (List<Object>) first.get("ids");
        Result r = run("tokenize", "--prompt", prompt, "--tokenizer", SharedFixtures.clip().toString());
        assertEquals(0, r.code(), r.err());
        List<Object> got = (List<Object>) Json.parse(r.out());
        assertEquals(expected, got.subList(0, expected.size()));
        assertEquals(77, got.size());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> firstCase(Object golden) {
        if (golden instanceof List<?> l) {
            return (Map<String, Object>) l.get(0);
        }
        Map<String, Object> m = (Map<String, Object>) golden;
        Object cases = m.getOrDefault("cases", m.get("prompts"));
        return (Map<String, Object>) ((List<Object>) cases).get(0);
    }

    @Test
    void randomWeightsFollowsTheHeaderAndNeverOverwrites(@TempDir Path dir) throws Exception {
        Path header = dir.resolve("h.json");
        Files.writeString(header, "{\"a.weight\": [\"float16\", [4, 3, 3, 3]], \"a.bias\": [\"float16\", [4]],"
                + " \"ids\": [\"int64\", [1, 5]], \"betas\": [\"float32\", [7]]}");
        Path out = dir.resolve("w.safetensors");
        Result r = run("random-weights", "--header", header.toString(), "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertArrayEquals(new int[]{4, 3, 3, 3}, f.info("a.weight").shape());
            float[] w = f.tensor("a.weight").toFloatArray();
            double bound = 1 / Math.sqrt(27);
            boolean nonZero = false;
            for (float v : w) {
                assertTrue(Math.abs(v) <= bound * 1.001, "uniform within 1/sqrt(fan_in)");
                nonZero |= v != 0;
            }
            assertTrue(nonZero);
            assertArrayEquals(new float[]{0, 0, 0, 0}, f.tensor("a.bias").toFloatArray());
            assertArrayEquals(new float[]{0, 1, 2, 3, 4}, f.tensor("ids").toFloatArray());
        }
        assertOneLineError(run("random-weights", "--header", header.toString(), "--output", out.toString()), "exists");
    }

    @Test
    void inspectDescribesEachTinyModel() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        Path c = SharedFixtures.conformance();
        String[][] cases = {
                {c.resolve("sd1-tiny").toString()},
                {c.resolve("sd2-tiny").toString()},
                {c.resolve("sd1-tiny.safetensors").toString(), "--config", c.resolve("sd1-tiny").toString()},
                {c.resolve("sd2-tiny.safetensors").toString(), "--config", c.resolve("sd2-tiny").toString()},
        };
        for (String[] args : cases) {
            List<String> all = new java.util.ArrayList<>(List.of("inspect", "--model"));
            all.addAll(List.of(args));
            Result r = run(all.toArray(new String[0]));
            assertEquals(0, r.code(), r.err());
            assertTrue(r.out().contains(args[0].contains("sd2") ? "Stable Diffusion 2.x" : "Stable Diffusion 1.x"), r.out());
            assertTrue(r.out().contains("every tensor present"), r.out());
        }
    }

    @Test
    void inspectRefusesWhatIsNotAModel(@TempDir Path dir) throws Exception {
        assertOneLineError(run("inspect", "--model", dir.resolve("nope").toString()), "nope");
        assertOneLineError(run("inspect", "--model", dir.toString()), dir.toString());
        Path text = Files.writeString(dir.resolve("notes.safetensors"), "hello, not a checkpoint");
        assertOneLineError(run("inspect", "--model", text.toString()), "notes.safetensors");
        Path other = dir.resolve("other.safetensors");
        dev.ldm4j.weights.SafetensorsWriter.write(other, Map.of("w", dev.ldm4j.tensor.Tensor.zeros(2, 2)));
        assertOneLineError(run("inspect", "--model", other.toString()), "other.safetensors");
    }
}
