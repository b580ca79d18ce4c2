// CLIP's byte-level BPE tokenizer (Radford et al. 2021, github.com/openai/CLIP), as the reference
// pipeline runs it (transformers' CLIPTokenizer): normalize the text (Unicode NFC, whitespace runs
// to one space, lower case), split it into words with CLIP's regex, map each word's UTF-8 bytes to
// printable characters, merge symbol pairs by rank with "</w>" marking the end of the word, and
// look the symbols up in the vocabulary. encode() gives the 77 ids the text encoder takes.
// Loads the three layouts in use: vocab.json + merges.txt, tokenizer.json, and OpenAI's
// bpe_simple_vocab_16e6.txt.gz. withAddedTokens() gives a tokenizer that also knows the tokens of
// textual-inversion embeddings: each is found in the normalized text before the word split and
// stands for its own ids (one per vector), past the base vocabulary.
package dev.ldm4j.diffusion.tokenizer;

import dev.ldm4j.weights.Json;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

public final class ClipTokenizer {
    /** The CLIP text encoder's context: BOS + 75 tokens + EOS. */
    public static final int CONTEXT_LENGTH = 77;
    public static final String BOS_TOKEN = "<|startoftext|>";
    public static final String EOS_TOKEN = "<|endoftext|>";
    private static final String END_OF_WORD = "</w>";
    /** OpenAI's file holds more merges than CLIP uses: the vocabulary has 49408 entries. */
    private static final int OPENAI_MERGES = 49152 - 256 - 2;

    // CLIP's word split (openai/CLIP simple_tokenizer.py), applied to lower-cased text.
    private static final Pattern WORDS = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);

    private static final char[] BYTE_TO_CHAR = byteToUnicode();
    private static final Map<Character, Integer> CHAR_TO_BYTE = invert(BYTE_TO_CHAR);

    private final Map<String, Integer> vocab;
    private final String[] idToToken;
    private final Map<String, Integer> mergeRanks; // "left right" -> rank; symbols never hold a space
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final String source;
    private final List<AddedToken> added;           // longest text first
    private final List<String> addedMatch;           // each added token's text as normalize() leaves it
    private final Map<Integer, String> addedById;    // first id of each added token -> its text
    private final Set<Integer> addedIds;
    private final Map<String, int[]> cache = new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, int[]> eldest) {
            return size() > 20_000;
        }
    };

    private ClipTokenizer(Map<String, Integer> vocab, List<String[]> merges, String padToken, String source) {
        this.source = source;
        this.vocab = vocab;
        int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.idToToken = new String[maxId + 1];
        vocab.forEach((token, id) -> {
            if (id < 0) {
                throw new TokenizerException(source + ": negative id " + id + " for token " + token);
            }
            idToToken[id] = token;
        });
        for (char c : BYTE_TO_CHAR) {
            if (!vocab.containsKey(String.valueOf(c)) || !vocab.containsKey(c + END_OF_WORD)) {
                throw new TokenizerException(source + ": vocabulary lacks the byte symbol '" + c + "' (not a CLIP byte-level BPE vocabulary)");
            }
        }
        this.mergeRanks = new HashMap<>(merges.size() * 2);
        for (String[] m : merges) {
            mergeRanks.putIfAbsent(m[0] + " " + m[1], mergeRanks.size());
        }
        this.bosId = requireToken(BOS_TOKEN, "BOS");
        this.eosId = requireToken(EOS_TOKEN, "EOS");
        this.padId = requireToken(padToken, "pad");
        this.added = List.of();
        this.addedMatch = List.of();
        this.addedById = Map.of();
        this.addedIds = Set.of();
    }

    private ClipTokenizer(ClipTokenizer base, List<AddedToken> tokens) {
        this.vocab = base.vocab;
        this.idToToken = base.idToToken;
        this.mergeRanks = base.mergeRanks;
        this.bosId = base.bosId;
        this.eosId = base.eosId;
        this.padId = base.padId;
        this.source = base.source;
        List<AddedToken> sorted = new ArrayList<>(tokens);
        sorted.sort((a, b) -> Integer.compare(normalize(b.text()).length(), normalize(a.text()).length()));
        this.added = List.copyOf(sorted);
        this.addedMatch = sorted.stream().map(t -> normalize(t.text())).toList();
        Map<Integer, String> byId = new HashMap<>();
        Set<Integer> ids = new HashSet<>();
        for (AddedToken t : sorted) {
            byId.put(t.ids()[0], t.text());
            for (int id : t.ids()) {
                ids.add(id);
            }
        }
        this.addedById = Map.copyOf(byId);
        this.addedIds = Set.copyOf(ids);
    }

    /**
     * This tokenizer with tokens added (textual-inversion embeddings). A token is found in the text
     * after normalization (so case does not matter) where it is not glued to a letter or digit (the
     * token "cat" is found in "a cat," but not in "catalog"; "<cat-toy>" in "a<cat-toy>") and gives
     * its ids. Two tokens with the same text, or ids already in use, are refused.
     */
    public ClipTokenizer withAddedTokens(List<AddedToken> tokens) {
        List<AddedToken> all = new ArrayList<>(added);
        all.addAll(tokens);
        Set<String> texts = new HashSet<>();
        Set<Integer> ids = new HashSet<>();
        for (AddedToken t : all) {
            if (!texts.add(normalize(t.text()))) {
                throw new TokenizerException("the token '" + t.text() + "' is added twice");
            }
            for (int id : t.ids()) {
                if (id < idToToken.length && idToToken[id] != null || !ids.add(id)) {
                    throw new TokenizerException("the added token '" + t.text() + "' asks for id " + id + ", which is taken");
                }
            }
        }
        return new ClipTokenizer(this, all);
    }

    /** How many ids the added token starting with id stands for (its vectors), or 0 when id starts none. */
    public int addedTokenLength(int id) {
        if (!addedById.containsKey(id)) {
            return 0;
        }
        for (AddedToken t : added) {
            if (t.ids()[0] == id) {
                return t.ids().length;
            }
        }
        return 0;
    }

    /** The added tokens (textual-inversion embeddings), longest first. */
    public List<AddedToken> addedTokens() {
        return added;
    }

    private int requireToken(String token, String role) {
        Integer id = vocab.get(token);
        if (id == null) {
            throw new TokenizerException(source + ": " + role + " token " + token + " is not in the vocabulary");
        }
        return id;
    }

    // ------------------------------------------------------------------------------------------
    // Loading

    /**
     * Loads a tokenizer from a model's tokenizer folder (vocab.json + merges.txt, or tokenizer.json,
     * or bpe_simple_vocab_16e6.txt.gz), a tokenizer.json file, or OpenAI's .txt.gz file. The pad
     * token comes from tokenizer_config.json / special_tokens_map.json beside the files, else EOS.
     */
    public static ClipTokenizer load(Path path) {
        return load(path, EOS_TOKEN);
    }

    /**
     * As load(path), with defaultPad as the pad token when no tokenizer_config.json or
     * special_tokens_map.json beside the files names one (SD 2.x pads with "!", SD 1.x with EOS,
     * so a bare vocabulary given for an SD 2.x checkpoint must not fall back to EOS).
     */
    public static ClipTokenizer load(Path path, String defaultPad) {
        if (Files.isDirectory(path)) {
            if (Files.isRegularFile(path.resolve("vocab.json")) && Files.isRegularFile(path.resolve("merges.txt"))) {
                return fromVocabAndMerges(path.resolve("vocab.json"), path.resolve("merges.txt"), padTokenBeside(path, defaultPad));
            }
            if (Files.isRegularFile(path.resolve("tokenizer.json"))) {
                return fromTokenizerJson(path.resolve("tokenizer.json"), padTokenBeside(path, defaultPad));
            }
            if (Files.isRegularFile(path.resolve("bpe_simple_vocab_16e6.txt.gz"))) {
                return fromOpenAiBpe(path.resolve("bpe_simple_vocab_16e6.txt.gz"), padTokenBeside(path, defaultPad));
            }
            throw new TokenizerException(path + ": no tokenizer found (expected vocab.json + merges.txt, tokenizer.json or bpe_simple_vocab_16e6.txt.gz)");
        }
        if (!Files.exists(path)) {
            throw new TokenizerException(path + ": no such tokenizer file or folder");
        }
        if (!Files.isRegularFile(path)) {
            throw new TokenizerException(path + ": not a regular file (a device, pipe or socket); give a tokenizer folder or file");
        }
        String name = path.getFileName().toString();
        Path dir = path.toAbsolutePath().getParent();
        if (name.endsWith(".gz")) {
            return fromOpenAiBpe(path, padTokenBeside(dir, defaultPad));
        }
        if (name.endsWith(".json")) {
            return fromTokenizerJson(path, padTokenBeside(dir, defaultPad));
        }
        throw new TokenizerException(path + ": not a tokenizer file (expected tokenizer.json or bpe_simple_vocab_16e6.txt.gz)");
    }

    /** transformers' slow-tokenizer layout: vocab.json (token -> id) and merges.txt ("a b" per line after a #version header). */
    public static ClipTokenizer fromVocabAndMerges(Path vocabJson, Path mergesTxt, String padToken) {
        Map<String, Integer> vocab = vocabFromJson(Json.parseObject(vocabJson), vocabJson);
        List<String[]> merges = new ArrayList<>();
        List<String> lines = readLines(mergesTxt);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if ((i == 0 && line.startsWith("#version")) || line.isEmpty()) {
                continue;
            }
            merges.add(splitMerge(line, mergesTxt, i + 1));
        }
        return new ClipTokenizer(vocab, merges, padToken, vocabJson.getParent() + " (vocab.json + merges.txt)");
    }

    /** Hugging Face tokenizers' single-file layout: model.vocab, model.merges ("a b" or [a, b]), added_tokens. */
    @SuppressWarnings("unchecked")
    public static ClipTokenizer fromTokenizerJson(Path tokenizerJson, String padToken) {
        Map<String, Object> root = Json.parseObject(tokenizerJson);
        if (!(root.get("model") instanceof Map<?, ?> model)) {
            throw new TokenizerException(tokenizerJson + ": no \"model\" object (not a tokenizers file)");
        }
        if (model.get("type") != null && !"BPE".equals(model.get("type"))) {
            throw new TokenizerException(tokenizerJson + ": model type is " + model.get("type") + ", CLIP needs BPE");
        }
        if (!(model.get("vocab") instanceof Map<?, ?> vocabJson)) {
            throw new TokenizerException(tokenizerJson + ": model.vocab is missing or not an object");
        }
        Map<String, Integer> vocab = vocabFromJson((Map<String, Object>) vocabJson, tokenizerJson);
        if (root.get("added_tokens") instanceof List<?> added) {
            for (Object o : added) {
                if (o instanceof Map<?, ?> t && t.get("content") instanceof String content && t.get("id") instanceof Long id) {
                    vocab.put(content, Math.toIntExact(id));
                } else {
                    throw new TokenizerException(tokenizerJson + ": malformed entry in added_tokens: " + o);
                }
            }
        }
        if (!(model.get("merges") instanceof List<?> mergeList)) {
            throw new TokenizerException(tokenizerJson + ": model.merges is missing or not a list");
        }
        List<String[]> merges = new ArrayList<>(mergeList.size());
        for (int i = 0; i < mergeList.size(); i++) {
            Object m = mergeList.get(i);
            if (m instanceof String s) {
                merges.add(splitMerge(s, tokenizerJson, i + 1));
            } else if (m instanceof List<?> pair && pair.size() == 2 && pair.get(0) instanceof String a && pair.get(1) instanceof String b) {
                merges.add(new String[] {a, b});
            } else {
                throw new TokenizerException(tokenizerJson + ": model.merges[" + i + "] is neither \"a b\" nor [a, b]: " + m);
            }
        }
        return new ClipTokenizer(vocab, merges, padToken, tokenizerJson.toString());
    }

    /**
     * OpenAI's bpe_simple_vocab_16e6.txt.gz: a header line, then merges. The vocabulary is built as
     * CLIP builds it: the 256 byte symbols, the same with "</w>", one symbol per merge (the first
     * 48894 merges), then the two special tokens.
     */
    public static ClipTokenizer fromOpenAiBpe(Path gz, String padToken) {
        List<String[]> merges = new ArrayList<>(OPENAI_MERGES);
        try (BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(Files.newInputStream(gz)), StandardCharsets.UTF_8))) {
            r.readLine(); // header
            String line;
            while (merges.size() < OPENAI_MERGES && (line = r.readLine()) != null) {
                merges.add(splitMerge(line, gz, merges.size() + 2));
            }
        } catch (IOException e) {
            throw new TokenizerException(gz + ": cannot read gzip BPE merges: " + e.getMessage());
        }
        if (merges.size() < OPENAI_MERGES) {
            throw new TokenizerException(gz + ": has " + merges.size() + " merges, CLIP's vocabulary needs " + OPENAI_MERGES);
        }
        // CLIP lists the byte symbols in its table's order: the printable bytes, then the moved
        // ones; that is ascending character order.
        char[] byteSymbols = BYTE_TO_CHAR.clone();
        Arrays.sort(byteSymbols);
        List<String> tokens = new ArrayList<>();
        for (char c : byteSymbols) {
            tokens.add(String.valueOf(c));
        }
        for (char c : byteSymbols) {
            tokens.add(c + END_OF_WORD);
        }
        for (String[] m : merges) {
            tokens.add(m[0] + m[1]);
        }
        tokens.add(BOS_TOKEN);
        tokens.add(EOS_TOKEN);
        Map<String, Integer> vocab = new HashMap<>(tokens.size() * 2);
        for (int id = 0; id < tokens.size(); id++) {
            vocab.put(tokens.get(id), id);
        }
        return new ClipTokenizer(vocab, merges, padToken, gz.toString());
    }

    /** The pad token named by tokenizer_config.json or special_tokens_map.json in dir; EOS when neither names one. */
    public static String padTokenBeside(Path dir) {
        return padTokenBeside(dir, EOS_TOKEN);
    }

    /** The pad token named by tokenizer_config.json or special_tokens_map.json in dir; defaultPad when neither names one. */
    public static String padTokenBeside(Path dir, String defaultPad) {
        for (String name : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
            Path f = dir.resolve(name);
            if (Files.isRegularFile(f)) {
                Object pad = Json.parseObject(f).get("pad_token");
                if (pad instanceof String s) {
                    return s;
                }
                if (pad instanceof Map<?, ?> m && m.get("content") instanceof String s) {
                    return s;
                }
                if (pad != null) {
                    throw new TokenizerException(f + ": pad_token is neither a string nor {\"content\": ...}: " + pad);
                }
            }
        }
        return defaultPad;
    }

    private static Map<String, Integer> vocabFromJson(Map<String, Object> json, Path file) {
        Map<String, Integer> vocab = new HashMap<>(json.size() * 2);
        for (Map.Entry<String, Object> e : json.entrySet()) {
            if (!(e.getValue() instanceof Long id) || id < 0 || id > Integer.MAX_VALUE) {
                throw new TokenizerException(file + ": vocabulary entry " + e.getKey() + " has id " + e.getValue() + ", expected a non-negative integer");
            }
            vocab.put(e.getKey(), Math.toIntExact(id));
        }
        return vocab;
    }

    private static String[] splitMerge(String line, Path file, int lineNumber) {
        String[] parts = line.split(" ");
        if (parts.length != 2 || parts[0].isEmpty() || parts[1].isEmpty()) {
            throw new TokenizerException(file + ": line " + lineNumber + " is not a merge \"a b\": " + line);
        }
        return parts;
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new TokenizerException(file + ": cannot read: " + e.getMessage());
        }
    }

    // ------------------------------------------------------------------------------------------
    // Encoding

    /** The 77 ids for the text encoder: BOS, the tokens (at most 75), EOS, then the pad id. */
    public ClipEncoding encode(String text) {
        int[] tokens = tokenIds(text);
        int kept = Math.min(tokens.length, CONTEXT_LENGTH - 2);
        int[] ids = new int[CONTEXT_LENGTH];
        Arrays.fill(ids, padId);
        ids[0] = bosId;
        System.arraycopy(tokens, 0, ids, 1, kept);
        ids[kept + 1] = eosId;
        String dropped = decode(Arrays.copyOfRange(tokens, kept, tokens.length));
        return new ClipEncoding(ids, tokens.length, dropped);
    }

    /** BOS, every token of the text, EOS: no truncation, no padding. */
    public int[] tokenize(String text) {
        int[] tokens = tokenIds(text);
        int[] ids = new int[tokens.length + 2];
        ids[0] = bosId;
        System.arraycopy(tokens, 0, ids, 1, tokens.length);
        ids[ids.length - 1] = eosId;
        return ids;
    }

    /** The text's tokens without BOS and EOS. */
    public int[] tokenIds(String text) {
        String clean = normalize(text);
        List<Integer> out = new ArrayList<>();
        int from = 0;
        while (from <= clean.length()) {
            int[] found = nextAddedToken(clean, from);          // {position, index into added}, or null
            int end = found == null ? clean.length() : found[0];
            Matcher m = WORDS.matcher(clean.substring(from, end));
            while (m.find()) {
                for (int id : wordIds(m.group())) {
                    out.add(id);
                }
            }
            if (found == null) {
                break;
            }
            for (int id : added.get(found[1]).ids()) {
                out.add(id);
            }
            from = found[0] + addedMatch.get(found[1]).length();
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The first added token in clean at or after from, longest first at one position: {position, index}, or null. */
    private int[] nextAddedToken(String clean, int from) {
        if (added.isEmpty()) {
            return null;
        }
        for (int at = from; at < clean.length(); at++) {
            for (int i = 0; i < addedMatch.size(); i++) {
                String t = addedMatch.get(i);
                if (clean.startsWith(t, at) && freeEdge(clean, at - 1, t.charAt(0))
                        && freeEdge(clean, at + t.length(), t.charAt(t.length() - 1))) {
                    return new int[] {at, i};
                }
            }
        }
        return null;
    }

    /** A token's edge character that is a letter or digit must not touch one in the text (at index outside). */
    private static boolean freeEdge(String text, int outside, char edge) {
        return !Character.isLetterOrDigit(edge) || outside < 0 || outside >= text.length()
                || !Character.isLetterOrDigit(text.charAt(outside));
    }

    /** Text as the tokenizer sees it: NFC, whitespace runs to one space, trimmed, lower case. */
    static String normalize(String text) {
        String t = Normalizer.normalize(text, Normalizer.Form.NFC);
        t = WHITESPACE.matcher(t).replaceAll(" ").strip();
        return t.toLowerCase(Locale.ROOT);
    }

    private int[] wordIds(String word) {
        synchronized (cache) {
            int[] hit = cache.get(word);
            if (hit != null) {
                return hit;
            }
        }
        int[] ids;
        Integer special = word.equals(BOS_TOKEN) || word.equals(EOS_TOKEN) ? vocab.get(word) : null;
        if (special != null) {
            ids = new int[] {special};
        } else {
            List<String> symbols = bpe(byteSymbols(word));
            ids = new int[symbols.size()];
            for (int i = 0; i < ids.length; i++) {
                Integer id = vocab.get(symbols.get(i));
                if (id == null) {
                    throw new IllegalStateException(source + ": BPE produced " + symbols.get(i) + ", which is not in the vocabulary");
                }
                ids[i] = id;
            }
        }
        synchronized (cache) {
            cache.put(word, ids);
        }
        return ids;
    }

    /** One symbol per UTF-8 byte of the word, the last carrying the end-of-word marker. */
    private static List<String> byteSymbols(String word) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        List<String> symbols = new ArrayList<>(bytes.length);
        for (byte b : bytes) {
            symbols.add(String.valueOf(BYTE_TO_CHAR[b & 0xff]));
        }
        int last = symbols.size() - 1;
        symbols.set(last, symbols.get(last) + END_OF_WORD);
        return symbols;
    }

    /**
     * Byte-pair merging (Sennrich et al. 2016): repeatedly take the adjacent pair whose merge has
     * the lowest rank and join every occurrence of it, left to right, until no pair has a merge.
     */
    private List<String> bpe(List<String> symbols) {
        List<String> word = new ArrayList<>(symbols);
        while (word.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            String bestLeft = null;
            String bestRight = null;
            for (int i = 0; i + 1 < word.size(); i++) {
                Integer rank = mergeRanks.get(word.get(i) + " " + word.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    bestLeft = word.get(i);
                    bestRight = word.get(i + 1);
                }
            }
            if (bestLeft == null) {
                break;
            }
            List<String> merged = new ArrayList<>(word.size());
            for (int i = 0; i < word.size(); i++) {
                if (i + 1 < word.size() && word.get(i).equals(bestLeft) && word.get(i + 1).equals(bestRight)) {
                    merged.add(bestLeft + bestRight);
                    i++;
                } else {
                    merged.add(word.get(i));
                }
            }
            word = merged;
        }
        return word;
    }

    /** Text of token ids: symbols back to bytes, "</w>" back to a space, special tokens dropped. */
    public String decode(int[] ids) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id == bosId || id == eosId) {
                continue;
            }
            if (addedIds.contains(id)) {
                String t = addedById.get(id);
                if (t != null) {
                    bytes.writeBytes((t + " ").getBytes(StandardCharsets.UTF_8));
                }
                continue;
            }
            String token = id >= 0 && id < idToToken.length ? idToToken[id] : null;
            if (token == null) {
                throw new IllegalArgumentException("token id " + id + " is not in the vocabulary of " + source);
            }
            boolean endOfWord = token.endsWith(END_OF_WORD);
            String body = endOfWord ? token.substring(0, token.length() - END_OF_WORD.length()) : token;
            for (int i = 0; i < body.length(); i++) {
                Integer b = CHAR_TO_BYTE.get(body.charAt(i));
                bytes.write(b == null ? '?' : b);
            }
            if (endOfWord) {
                bytes.write(' ');
            }
        }
        return bytes.toString(StandardCharsets.UTF_8).strip();
    }

    /** The vocabulary's entry for id as it is stored (e.g. "red</w>", "<|endoftext|>"), or null when there is none. */
    public String token(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    public int padId() {
        return padId;
    }

    public int vocabSize() {
        return vocab.size();
    }

    /** Where the vocabulary came from, for messages. */
    public String source() {
        return source;
    }

    // ------------------------------------------------------------------------------------------
    // GPT-2 / CLIP byte <-> character table

    /**
     * Every byte gets a printable character: the 188 printable Latin-1 bytes stand for themselves,
     * the other 68 (controls, space, soft hyphen, ...) are moved to U+0100 onwards in byte order.
     */
    /** The printable character that stands for byte b (0..255) in CLIP's symbols. */
    public static char byteSymbol(int b) {
        return BYTE_TO_CHAR[b];
    }

    private static char[] byteToUnicode() {
        char[] table = new char[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char) b : (char) (256 + shifted++);
        }
        return table;
    }

    private static Map<Character, Integer> invert(char[] table) {
        Map<Character, Integer> m = new HashMap<>();
        for (int b = 0; b < table.length; b++) {
            m.put(table[b], b);
        }
        return m;
    }
}
