// ./ldm4j embed: a look at the text-embedding space that conditions the U-Net (EmbeddingSpace). For each prompt its
// tokens, the norm of each token's input embedding (its row of CLIP's token_embedding) and of the conditioning at
// each position (the last hidden state), and the vocabulary tokens nearest each position's input embedding; for each
// pair of prompts the cosine similarity of their conditioning at each position and of their pooled vectors. Text,
// or JSON with --json.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.pipeline.EmbeddingSpace;
import dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.weights.JsonWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "embed", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Show prompts in the text-embedding space: tokens, per-token norms of the input embedding and of the",
                "conditioning, the nearest vocabulary tokens to each input embedding, and cosine similarities between prompts."})
public final class EmbedCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "PATH", description = "A diffusers folder, a single file (with --config or --tokenizer), or a built-in model (default: shapes).")
    Path model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT", description = "A prompt (repeat for more; pairs are compared).")
    List<String> prompts = new ArrayList<>();

    @Option(names = "--nearest", defaultValue = "5", paramLabel = "K", description = "How many nearest vocabulary tokens to list per position (default: ${DEFAULT-VALUE}).")
    int nearest;

    @Option(names = "--config", paramLabel = "DIR", description = "A diffusers model folder whose configs (and tokenizer) describe a single-file checkpoint.")
    Path config;

    @Option(names = "--tokenizer", paramLabel = "PATH", description = "Tokenizer for a single file (as for generate).")
    Path tokenizer;

    @Option(names = "--json", description = "Print JSON instead of text.")
    boolean json;

    @Override
    public Integer call() {
        if (nearest < 0 || nearest > 100) {
            throw new Main.UserError("--nearest must be 0 to 100, got " + nearest);
        }
        model = BuiltinModels.resolve(model);
        if (!java.nio.file.Files.exists(model)) {
            throw new Main.UserError(model + ": no such file or directory");
        }
        try (Backend backend = Backends.create("cpu");
             StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model, config, tokenizer, null, backend)) {
            EmbeddingSpace space = EmbeddingSpace.of(pipe, backend);
            List<EmbeddingSpace.Prompt> encoded = prompts.stream().map(space::encode).toList();
            Map<String, Object> report = report(space, encoded);
            PrintWriter out = spec.commandLine().getOut();
            out.print(json ? JsonWriter.pretty(report) : text(report));
            out.flush();
        }
        return 0;
    }

    /** Everything shown, as the JSON output's tree. */
    private Map<String, Object> report(EmbeddingSpace space, List<EmbeddingSpace.Prompt> encoded) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", model.toString());
        List<Object> ps = new ArrayList<>();
        for (EmbeddingSpace.Prompt p : encoded) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("prompt", p.text());
            List<Object> tokens = new ArrayList<>();
            for (int pos = 0; pos < p.length(); pos++) {
                int id = p.ids()[pos];
                float[] input = space.tokenEmbedding(id);
                Map<String, Object> t = new LinkedHashMap<>();
                t.put("position", pos);
                t.put("id", id);
                t.put("token", space.tokenizer().token(id));
                t.put("input_norm", EmbeddingSpace.norm(input));
                t.put("conditioning_norm", EmbeddingSpace.norm(p.hidden()[pos]));
                List<Object> near = new ArrayList<>();
                for (EmbeddingSpace.Neighbour n : space.nearest(input, nearest)) {
                    near.add(Map.of("id", n.id(), "token", String.valueOf(n.token()), "cosine", n.cosine()));
                }
                t.put("nearest", near);
                tokens.add(t);
            }
            m.put("tokens", tokens);
            m.put("pooled_norm", EmbeddingSpace.norm(p.pooled()));
            ps.add(m);
        }
        r.put("prompts", ps);
        List<Object> pairs = new ArrayList<>();
        for (int a = 0; a < encoded.size(); a++) {
            for (int b = a + 1; b < encoded.size(); b++) {
                EmbeddingSpace.Prompt pa = encoded.get(a);
                EmbeddingSpace.Prompt pb = encoded.get(b);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("a", a);
                m.put("b", b);
                m.put("pooled_cosine", EmbeddingSpace.cosine(pa.pooled(), pb.pooled()));
                List<Object> perPosition = new ArrayList<>();
                for (int pos = 0; pos < Math.max(pa.length(), pb.length()); pos++) {
                    perPosition.add(EmbeddingSpace.cosine(pa.hidden()[pos], pb.hidden()[pos]));
                }
                m.put("per_position_cosine", perPosition);
                pairs.add(m);
            }
        }
        r.put("similarities", pairs);
        return r;
    }

    /** The report as a few readable lines per prompt and per pair. */
    @SuppressWarnings("unchecked")
    private static String text(Map<String, Object> report) {
        StringBuilder sb = new StringBuilder();
        List<Object> ps = (List<Object>) report.get("prompts");
        for (int i = 0; i < ps.size(); i++) {
            Map<String, Object> p = (Map<String, Object>) ps.get(i);
            sb.append(String.format(Locale.ROOT, "prompt %d: \"%s\" (pooled norm %.3f)%n", i, p.get("prompt"), (Double) p.get("pooled_norm")));
            sb.append(String.format(Locale.ROOT, "  %3s  %-20s %6s  %8s  %8s  %s%n", "pos", "token", "id", "|input|", "|cond|", "nearest input embeddings (cosine)"));
            for (Object o : (List<Object>) p.get("tokens")) {
                Map<String, Object> t = (Map<String, Object>) o;
                StringBuilder near = new StringBuilder();
                for (Object n : (List<Object>) t.get("nearest")) {
                    Map<String, Object> nb = (Map<String, Object>) n;
                    near.append(near.isEmpty() ? "" : ", ").append(nb.get("token")).append(String.format(Locale.ROOT, " %.3f", (Double) nb.get("cosine")));
                }
                sb.append(String.format(Locale.ROOT, "  %3d  %-20s %6d  %8.3f  %8.3f  %s%n", (Integer) t.get("position"), t.get("token"),
                        (Integer) t.get("id"), (Double) t.get("input_norm"), (Double) t.get("conditioning_norm"), near));
            }
        }
        for (Object o : (List<Object>) report.get("similarities")) {
            Map<String, Object> s = (Map<String, Object>) o;
            sb.append(String.format(Locale.ROOT, "prompts %d and %d: pooled cosine %.4f; conditioning cosine per position:",
                    (Integer) s.get("a"), (Integer) s.get("b"), (Double) s.get("pooled_cosine")));
            List<Object> per = (List<Object>) s.get("per_position_cosine");
            for (int pos = 0; pos < per.size(); pos++) {
                sb.append(String.format(Locale.ROOT, " %d:%.3f", pos, (Double) per.get(pos)));
            }
            sb.append(System.lineSeparator());
        }
        return sb.toString();
    }
}
