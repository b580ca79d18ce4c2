// Turns the JSON that JMH writes for the CPU op suite (dev.ldm4j.bench.ops) into bench/RESULTS.md:
// one row per benchmark with its rate (GFLOP/s or GB/s), the share of the ceiling measured in the
// same run (Ceilings.fmaPeak for compute, Ceilings.copy for memory), the target and whether it is
// met. A single-file program, so no build and no Python are needed:
//
//   java --add-modules jdk.incubator.vector bench/MakeResults.java bench/jmh-ops.json "$(uptime)" bench/RESULTS-notes.md > bench/RESULTS.md
//
// The optional third argument is a hand-written notes file (what the numbers mean, which targets
// are missed and why), appended after the table. With `--shapes bench/sd15-shapes.tsv` (anywhere among the
// arguments), the rows of Sd15ShapesBench go to sections of their own, one per resolution: each shape SD 1.5
// runs, weighted by how often it runs in a 4-step guided image (bench/sd15-shapes.sh counts them), beside
// its in-model time per call from the same list:
//
//   java --add-modules jdk.incubator.vector bench/MakeResults.java bench/jmh-sd15-shapes.json "$(uptime)" --shapes bench/sd15-shapes.tsv > bench/SD15-SHAPES-RESULTS.md
// The FLOP and byte counts per operation are the ones stated in each benchmark's header comment; the
// FMA ceiling's count uses this machine's vector width, so run the script where JMH ran.
import jdk.incubator.vector.FloatVector;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class MakeResults {
    static final String RERUN = "./mvnw -q -B -pl bench -am package -DskipTests && "
            + "java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'dev.ldm4j.bench.ops' -rf json -rff bench/jmh-ops.json && "
            + "java --add-modules jdk.incubator.vector bench/MakeResults.java bench/jmh-ops.json \"$(uptime)\" bench/RESULTS-notes.md > bench/RESULTS.md";

    static final String RERUN_SHAPES = "bench/sd15-shapes.sh sd15-random.safetensors ../shared/clip && "
            + "./mvnw -q -B -pl bench -am package -DskipTests && "
            + "java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar 'ops.Sd15ShapesBench|ops.Ceilings' -rf json -rff bench/jmh-sd15-shapes.json && "
            + "java --add-modules jdk.incubator.vector bench/MakeResults.java bench/jmh-sd15-shapes.json \"$(uptime)\" --shapes bench/sd15-shapes.tsv "
            + "bench/SD15-SHAPES-notes.md > bench/SD15-SHAPES-RESULTS.md";

    /** Steps of the image the Sd15ShapesBench rows are weighted for (bench/whole-run.sh's runs take 4). */
    static final int STEPS = 4;

    public static void main(String[] argv) throws Exception {
        List<String> rest = new ArrayList<>(List.of(argv));
        Path shapeList = null;
        int at = rest.indexOf("--shapes");
        if (at >= 0 && at + 1 < rest.size()) {
            shapeList = Path.of(rest.get(at + 1));
            rest.subList(at, at + 2).clear();
        }
        String[] args = rest.toArray(String[]::new);
        if (args.length < 1) {
            System.err.println("usage: java --add-modules jdk.incubator.vector bench/MakeResults.java jmh.json [load] [notes.md]");
            System.exit(2);
        }
        Path json = Path.of(args[0]);
        Object parsed = new Parser(Files.readString(json)).value();
        if (!(parsed instanceof List<?> runs)) {
            throw new IllegalArgumentException(json + " is not a JMH JSON result array");
        }
        String date = LocalDate.ofInstant(Files.getLastModifiedTime(json).toInstant(), ZoneOffset.UTC).toString();
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        int cores = Runtime.getRuntime().availableProcessors();
        double fmaPeak = Double.NaN, copy = Double.NaN, fmaPeakCpu = Double.NaN, copyCpu = Double.NaN;
        double cloneCopy = Double.NaN, cloneCopyCpu = Double.NaN;
        List<Map<?, ?>> rows = new ArrayList<>();
        Map<String, Map<?, ?>> shapeRows = new LinkedHashMap<>();
        for (Object o : runs) {
            Map<?, ?> r = (Map<?, ?>) o;
            String name = (String) r.get("benchmark");
            double score = ((Number) ((Map<?, ?>) r.get("primaryMetric")).get("score")).doubleValue();
            if (name.endsWith("Ceilings.fmaPeak")) {
                fmaPeak = score * 2.0 * lanes * 12 * (1 << 20) / 1e9;
                fmaPeakCpu = cpuRate(r, 2.0 * lanes * 12 * (1 << 20), cores);
            } else if (name.endsWith("Ceilings.cloneCopy")) {
                cloneCopy = score * 2.0 * 4 * (4 << 20) / 1e9;
                cloneCopyCpu = cpuRate(r, 2.0 * 4 * (4 << 20), cores);
            } else if (name.endsWith("Ceilings.copy")) {
                copy = score * 2.0 * 4 * (4 << 20) / 1e9;
                copyCpu = cpuRate(r, 2.0 * 4 * (4 << 20), cores);
            } else if (name.endsWith("Sd15ShapesBench.op")) {
                shapeRows.put(String.valueOf(((Map<?, ?>) r.get("params")).get("row")), r);
            } else {
                rows.add(r);
            }
        }
        StringBuilder out = new StringBuilder();
        boolean shapesOnly = rows.isEmpty() && !shapeRows.isEmpty();
        out.append(shapesOnly ? "# SD 1.5's op shapes in JMH, weighted by how often they run\n\n" : "# CPU op benchmarks (JMH)\n\n");
        out.append("Rerun (from the project root, JDK 25):\n\n```\n").append(shapesOnly ? RERUN_SHAPES : RERUN).append("\n```\n\n");
        out.append("Generated by `bench/MakeResults.java` from `").append(json.getFileName()).append("` (").append(date).append(").\n");
        if (args.length > 1) {
            out.append("Machine load when the run finished (`uptime`): `").append(args[1].trim()).append("`.\n");
        }
        out.append(String.format("%nCeilings measured in the same run, on all %d cores: FMA peak **%.1f GFLOP/s** (%d-lane vectors), "
                + "copy bandwidth **%.1f GB/s** (read + write into a reused array), **%.1f GB/s** into a new array (clone); "
                + "normalized by CPU time: %.1f GFLOP/s, %.1f GB/s and %.1f GB/s.%n%n",
                cores, fmaPeak, lanes, copy, cloneCopy, fmaPeakCpu, copyCpu, cloneCopyCpu));
        out.append("`result` is wall-clock JMH throughput times the work per call. `CPU-time rate` divides the same work by the CPU time "
                + "the call's Java threads used, spread over the cores (see bench/src/main/java/dev/ldm4j/bench/ops/CpuTime.java): on a "
                + "loaded machine it is the closer estimate of the code's own speed; its share is taken of the CPU-time ceiling.\n\n");
        if (!shapeRows.isEmpty()) {
            if (shapeList == null) {
                throw new IllegalArgumentException("the JSON has Sd15ShapesBench rows: give their list with --shapes bench/sd15-shapes.tsv");
            }
            out.append(shapeSections(shapeRows, Files.readAllLines(shapeList), fmaPeak, cores));
        }
        if (!rows.isEmpty()) {
            out.append("| op | shape | result | % of ceiling | CPU-time rate | % of CPU-time ceiling | target | met (wall / CPU-time) | date |\n"
                    + "|---|---|---|---|---|---|---|---|---|\n");
        }
        for (Map<?, ?> r : rows) {
            String name = (String) r.get("benchmark");
            String bench = name.substring(name.lastIndexOf('.', name.lastIndexOf('.') - 1) + 1);
            Map<?, ?> params = (Map<?, ?>) r.get("params");
            String shape = params == null ? "" : String.valueOf(params.get("shape"));
            double score = ((Number) ((Map<?, ?>) r.get("primaryMetric")).get("score")).doubleValue();
            double[] work = work(bench, shape);
            double rate = score * work[0] / 1e9;
            boolean memory = work[1] == 1;
            double ceiling = memory ? copy : fmaPeak;
            double cpuRate = cpuRate(r, work[0], cores);
            double cpuCeiling = memory ? copyCpu : fmaPeakCpu;
            double target = target(bench, shape, copy);
            double cpuTarget = bench.equals("GroupNormBench.groupNormSilu") ? copyCpu / 2 : target;
            String unit = memory ? "GB/s" : "GFLOP/s";
            String share = memory
                    ? String.format("%.0f%% of copy, %.0f%% of clone", 100 * rate / ceiling, 100 * rate / cloneCopy)
                    : String.format("%.0f%% of FMA peak", 100 * rate / ceiling);
            String cpuShare = memory
                    ? String.format("%.0f%% / %.0f%%", 100 * cpuRate / cpuCeiling, 100 * cpuRate / cloneCopyCpu)
                    : String.format("%.0f%%", 100 * cpuRate / cpuCeiling);
            out.append(String.format("| %s | %s | %.1f %s | %s | %.1f %s | %s | %s | %s | %s |%n", bench, shape, rate, unit,
                    share, cpuRate, unit, cpuShare,
                    Double.isNaN(target) ? "-" : memory ? "half of copy" : String.format("%.0f %s", target, unit),
                    Double.isNaN(target) ? "-" : (rate >= target ? "yes" : "no") + " / " + (cpuRate >= cpuTarget ? "yes" : "no"), date));
        }
        if (args.length > 2) {
            out.append("\n").append(Files.readString(Path.of(args[2])));
        }
        System.out.print(out);
    }

    /**
     * For each resolution of the shape list (columns: resolution, op and shapes, calls per step, calls per image, ms
     * per call in the model, GFLOP per call), its JMH rows weighted by the calls of a STEPS-step image, heaviest first.
     */
    static String shapeSections(Map<String, Map<?, ?>> jmh, List<String> list, double fmaPeak, int cores) {
        Map<String, List<String[]>> byRes = new LinkedHashMap<>();
        for (String line : list.subList(1, list.size())) {
            String[] f = line.split("\t");
            byRes.computeIfAbsent(f[0], k -> new ArrayList<>()).add(f);
        }
        StringBuilder out = new StringBuilder();
        for (Map.Entry<String, List<String[]>> e : byRes.entrySet()) {
            record Row(String key, long calls, double jmhMs, double cpuMs, double modelMs, double gflop) {
                double jmhSeconds() {
                    return calls * jmhMs / 1000;
                }
            }
            List<Row> measured = new ArrayList<>();
            double modelAll = 0, modelMeasured = 0;
            for (String[] f : e.getValue()) {
                long calls = STEPS * Long.parseLong(f[2]) + Long.parseLong(f[3]);
                double modelMs = Double.parseDouble(f[4]);
                modelAll += calls * modelMs / 1000;
                Map<?, ?> r = jmh.get(f[1]);
                if (r == null || calls == 0) {
                    continue;
                }
                double score = ((Number) ((Map<?, ?>) r.get("primaryMetric")).get("score")).doubleValue();
                double cpuMs = 1e-6 / cpuRate(r, 1.0, cores);   // cpuRate: calls per nanosecond of CPU time over the cores
                measured.add(new Row(f[1], calls, 1000 / score, cpuMs, modelMs, Double.parseDouble(f[5])));
                modelMeasured += calls * modelMs / 1000;
            }
            measured.sort((a, b) -> Double.compare(b.jmhSeconds(), a.jmhSeconds()));
            double jmhTotal = measured.stream().mapToDouble(Row::jmhSeconds).sum();
            double flops = measured.stream().mapToDouble(r -> r.calls() * r.gflop()).sum();
            String res = e.getKey();
            out.append(String.format("## SD 1.5 at %sx%s: every product and norm, weighted by its calls in a %d-step guided image%n%n", res, res, STEPS));
            out.append(String.format("Calls per image = %d x calls per step (the U-Net, batch 2) + calls once per image (text encoder, VAE "
                    + "decoder), from `bench/sd15-shapes.tsv`. Summed over these %d rows: **%.1f s by JMH** (wall) against **%.1f s in the "
                    + "model** (`--profile-shapes`, same list), in-model / JMH **%.2f**; %.0f GFLOP, so %.0f GFLOP/s by JMH, %.0f%% of the "
                    + "FMA peak of this run. All profiled ops of the image (memory ops too): %.1f s in the model.%n%n",
                    STEPS, measured.size(), jmhTotal, modelMeasured, modelMeasured / jmhTotal, flops, flops / jmhTotal,
                    100 * flops / jmhTotal / fmaPeak, modelAll));
            out.append("| op and operand shapes | calls per image | JMH ms per call | JMH GFLOP/s (CPU-time) | in-model ms per call | "
                    + "in-model / JMH | JMH s per image | share |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
            for (Row r : measured) {
                out.append(String.format("| `%s` | %d | %.2f | %s | %.2f | %.2f | %.3f | %.1f%% |%n", r.key(), r.calls(), r.jmhMs(),
                        r.gflop() == 0 ? "-" : String.format("%.0f (%.0f)", r.gflop() / r.jmhMs() * 1000, r.gflop() / r.cpuMs() * 1000),
                        r.modelMs(), r.modelMs() / r.jmhMs(), r.jmhSeconds(), 100 * r.jmhSeconds() / jmhTotal));
            }
            out.append("\n");
        }
        return out.toString();
    }

    /** work per call / (CPU seconds per call / cores), from the CpuTime secondary results; NaN when absent. */
    static double cpuRate(Map<?, ?> run, double workPerCall, int cores) {
        Map<?, ?> secondary = (Map<?, ?>) run.get("secondaryMetrics");
        if (secondary == null || !(secondary.get("cpuNanos") instanceof Map<?, ?> ns) || !(secondary.get("calls") instanceof Map<?, ?> calls)) {
            return Double.NaN;
        }
        double nanosPerCall = ((Number) ns.get("score")).doubleValue() / ((Number) calls.get("score")).doubleValue();
        return workPerCall / (nanosPerCall / cores);
    }

    /** {units of work per operation, 1 when the unit is bytes (else FLOP)}. */
    static double[] work(String bench, String shape) {
        if (bench.startsWith("LinearBench.") || bench.startsWith("LinearBackwardBench.")) {
            int[] d = dims(shape);
            return new double[] {2.0 * d[0] * d[1] * d[2], 0};
        }
        if (bench.startsWith("ConvBench.") || bench.startsWith("ConvBackwardBench.")) {
            String[] p = shape.split("_");
            int[] in = dims(p[0]), o = dims(p[1]);
            int k = o[1], stride = o.length > 2 ? o[2] : 1, pad = k / 2;
            long oh = (in[2] + 2 * pad - k) / stride + 1, ow = (in[3] + 2 * pad - k) / stride + 1;
            return new double[] {2.0 * in[0] * o[0] * oh * ow * in[1] * k * k, 0};
        }
        if (bench.startsWith("AttentionBench.")) {
            int[] d = dims(shape);
            return new double[] {4.0 * d[0] * d[3] * d[1] * d[2] * d[4], 0};
        }
        if (bench.startsWith("AttentionBackwardBench.")) {
            int[] d = dims(shape);
            return new double[] {10.0 * d[0] * d[3] * d[1] * d[2] * d[4], 0};
        }
        if (bench.startsWith("GroupNormBackwardBench.")) {
            int[] d = dims(shape);
            return new double[] {12.0 * d[0] * d[1] * d[2] * d[3], 1};
        }
        if (bench.startsWith("LayerNormBackwardBench.")) {
            int[] d = dims(shape);
            return new double[] {12.0 * d[0] * d[1], 1};
        }
        if (bench.startsWith("GroupNormBench.")) {
            int[] d = dims(shape);
            return new double[] {8.0 * d[0] * d[1] * d[2] * d[3], 1};
        }
        throw new IllegalArgumentException("no work model for benchmark " + bench);
    }

    /** The targets: GEMM 300, conv 3x3 250, attention 4096 tokens d=40 150 GFLOP/s, group norm half the copy rate. */
    static double target(String bench, String shape, double copy) {
        if (bench.startsWith("LinearBench.")) {
            return 300;
        }
        if (bench.startsWith("ConvBench.") && shape.endsWith("x3")) {
            return 250;
        }
        if (bench.startsWith("AttentionBench.") && shape.equals("2x4096x4096x8x40")) {
            return 150;
        }
        if (bench.equals("GroupNormBench.groupNormSilu")) {
            return copy / 2;
        }
        return Double.NaN;
    }

    static int[] dims(String s) {
        String[] p = s.split("x");
        int[] d = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            d[i] = Integer.parseInt(p[i]);
        }
        return d;
    }

    /** A small JSON reader: objects to LinkedHashMap, arrays to List, numbers to Double. */
    static final class Parser {
        private final String s;
        private int i;

        Parser(String s) {
            this.s = s;
        }

        Object value() {
            skip();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++;
                skip();
                if (s.charAt(i) == '}') {
                    i++;
                    return m;
                }
                while (true) {
                    skip();
                    String k = string();
                    skip();
                    expect(':');
                    m.put(k, value());
                    skip();
                    if (s.charAt(i++) == '}') {
                        return m;
                    }
                }
            }
            if (c == '[') {
                List<Object> l = new ArrayList<>();
                i++;
                skip();
                if (s.charAt(i) == ']') {
                    i++;
                    return l;
                }
                while (true) {
                    l.add(value());
                    skip();
                    if (s.charAt(i++) == ']') {
                        return l;
                    }
                }
            }
            if (c == '"') {
                return string();
            }
            if (s.startsWith("true", i)) {
                i += 4;
                return Boolean.TRUE;
            }
            if (s.startsWith("false", i)) {
                i += 5;
                return Boolean.FALSE;
            }
            if (s.startsWith("null", i)) {
                i += 4;
                return null;
            }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
            String num = s.substring(start, i);
            if (num.isEmpty()) {
                throw new IllegalArgumentException("unexpected '" + c + "' at offset " + start);
            }
            return Double.parseDouble(num);
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c == '\\') {
                    char e = s.charAt(i++);
                    switch (e) {
                        case 'n' -> b.append('\n');
                        case 't' -> b.append('\t');
                        case 'r' -> b.append('\r');
                        case 'b' -> b.append('\b');
                        case 'f' -> b.append('\f');
                        case 'u' -> {
                            b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                            i += 4;
                        }
                        default -> b.append(e);
                    }
                } else {
                    b.append(c);
                }
            }
        }

        private void expect(char c) {
            if (s.charAt(i) != c) {
                throw new IllegalArgumentException("expected '" + c + "' at offset " + i);
            }
            i++;
        }

        private void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
                i++;
            }
        }
    }
}
