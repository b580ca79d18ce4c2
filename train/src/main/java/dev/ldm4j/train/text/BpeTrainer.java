// Learns a byte-level BPE vocabulary in CLIP's format (Sennrich et al. 2016, "Neural Machine Translation of
// Rare Words with Subword Units", Algorithm 1), for a model trained from scratch on a small language such as
// the shapes captions: start from the 256 byte symbols (and their end-of-word forms, which CLIP's tokenizer
// requires), then repeatedly merge the most frequent adjacent pair over the word counts until every word is
// one symbol. The result is written as vocab.json + merges.txt, which ClipTokenizer and transformers'
// CLIPTokenizer both read; a word outside the training words still tokenizes, into smaller pieces.
package dev.ldm4j.train.text;

import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.weights.JsonWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

public final class BpeTrainer {
    private static final String END_OF_WORD = "</w>";

    /** A learned vocabulary: token -> id, and the merges in rank order ("left right"). */
    public record Vocabulary(Map<String, Integer> vocab, List<String> merges) {
        /** Writes vocab.json, merges.txt and the tokenizer config files of a diffusers tokenizer/ folder. */
        public void writeTo(Path dir) {
            try {
                Files.createDirectories(dir);
                Files.writeString(dir.resolve("vocab.json"), JsonWriter.line(vocab) + "\n");
                StringBuilder sb = new StringBuilder("#version: 0.2\n");
                merges.forEach(m -> sb.append(m).append('\n'));
                Files.writeString(dir.resolve("merges.txt"), sb.toString());
                Map<String, Object> config = new LinkedHashMap<>();
                config.put("bos_token", ClipTokenizer.BOS_TOKEN);
                config.put("eos_token", ClipTokenizer.EOS_TOKEN);
                config.put("model_max_length", ClipTokenizer.CONTEXT_LENGTH);
                config.put("pad_token", ClipTokenizer.EOS_TOKEN);
                config.put("tokenizer_class", "CLIPTokenizer");
                config.put("unk_token", ClipTokenizer.EOS_TOKEN);
                Files.writeString(dir.resolve("tokenizer_config.json"), JsonWriter.pretty(config));
                Map<String, Object> special = new LinkedHashMap<>();
                special.put("bos_token", ClipTokenizer.BOS_TOKEN);
                special.put("eos_token", ClipTokenizer.EOS_TOKEN);
                special.put("pad_token", ClipTokenizer.EOS_TOKEN);
                special.put("unk_token", ClipTokenizer.EOS_TOKEN);
                Files.writeString(dir.resolve("special_tokens_map.json"), JsonWriter.pretty(special));
            } catch (IOException e) {
                throw new UncheckedIOException(dir + ": cannot write the tokenizer: " + e.getMessage(), e);
            }
        }

        /** Reads vocab.json and merges.txt of a tokenizer folder (to fine-tune a model and write it out again). */
        @SuppressWarnings("unchecked")
        public static Vocabulary read(Path dir) {
            Map<String, Object> raw = dev.ldm4j.weights.Json.parseObject(dir.resolve("vocab.json"));
            TreeMap<Integer, String> byId = new TreeMap<>();
            raw.forEach((token, id) -> byId.put(((Number) id).intValue(), token));
            Map<String, Integer> vocab = new LinkedHashMap<>();
            byId.forEach((id, token) -> vocab.put(token, id));
            try {
                List<String> merges = new ArrayList<>();
                for (String line : Files.readAllLines(dir.resolve("merges.txt"), StandardCharsets.UTF_8)) {
                    if (!line.isEmpty() && !line.startsWith("#version")) {
                        merges.add(line);
                    }
                }
                return new Vocabulary(vocab, merges);
            } catch (IOException e) {
                throw new UncheckedIOException(dir.resolve("merges.txt") + ": cannot read: " + e.getMessage(), e);
            }
        }

        /** The tokenizer this vocabulary makes (written to dir first). */
        public ClipTokenizer tokenizer(Path dir) {
            writeTo(dir);
            return ClipTokenizer.load(dir);
        }
    }

    private BpeTrainer() {
    }

    /**
     * Learns merges from word counts (lower-case words as CLIP splits them). Ties between equally frequent
     * pairs go to the pair that sorts first, so the result depends only on the counts.
     */
    public static Vocabulary train(Map<String, Integer> wordCounts) {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) {
            vocab.put(String.valueOf(ClipTokenizer.byteSymbol(b)), vocab.size());
        }
        for (int b = 0; b < 256; b++) {
            vocab.put(ClipTokenizer.byteSymbol(b) + END_OF_WORD, vocab.size());
        }
        List<List<String>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        new TreeMap<>(wordCounts).forEach((word, count) -> {
            byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
            List<String> symbols = new ArrayList<>();
            for (int i = 0; i < bytes.length; i++) {
                String s = String.valueOf(ClipTokenizer.byteSymbol(bytes[i] & 0xff));
                symbols.add(i == bytes.length - 1 ? s + END_OF_WORD : s);
            }
            words.add(symbols);
            counts.add(count);
        });
        List<String> merges = new ArrayList<>();
        while (true) {
            Map<String, Integer> pairs = new TreeMap<>();
            for (int w = 0; w < words.size(); w++) {
                List<String> s = words.get(w);
                for (int i = 0; i + 1 < s.size(); i++) {
                    pairs.merge(s.get(i) + " " + s.get(i + 1), counts.get(w), Integer::sum);
                }
            }
            if (pairs.isEmpty()) {
                break;
            }
            String best = null;
            int bestCount = -1;
            for (Map.Entry<String, Integer> e : pairs.entrySet()) {
                if (e.getValue() > bestCount) {
                    best = e.getKey();
                    bestCount = e.getValue();
                }
            }
            String[] lr = best.split(" ");
            String merged = lr[0] + lr[1];
            merges.add(best);
            vocab.putIfAbsent(merged, vocab.size());
            for (List<String> s : words) {
                for (int i = 0; i + 1 < s.size(); i++) {
                    if (s.get(i).equals(lr[0]) && s.get(i + 1).equals(lr[1])) {
                        s.set(i, merged);
                        s.remove(i + 1);
                    }
                }
            }
        }
        vocab.put(ClipTokenizer.BOS_TOKEN, vocab.size());
        vocab.put(ClipTokenizer.EOS_TOKEN, vocab.size());
        return new Vocabulary(vocab, merges);
    }
}
