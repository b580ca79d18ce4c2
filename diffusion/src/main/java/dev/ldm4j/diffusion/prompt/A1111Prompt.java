// AUTOMATIC1111's prompt reading (stable-diffusion-webui, modules/prompt_parser.py parse_prompt_attention
// and modules/sd_hijack_clip.py tokenize_line), so that a prompt written for the web UI gives its tokens
// and weights here:
//  - emphasis: (x) multiplies x's weight by 1.1, [x] by 1/1.1, (x:w) by w; nesting multiplies; an
//    unclosed bracket applies to the rest of the prompt; \( \) \[ \] are literal brackets; BREAK
//    (upper case, a word of its own) ends the current chunk;
//  - chunks: the tokens, each with its weight, fill chunks of 75; each chunk becomes BOS + 75 tokens
//    (padded with EOS) + EOS, 77 ids encoded on its own. When a chunk is full and a comma lies among
//    its last 20 tokens, the text after that comma moves to the next chunk (the web UI's default
//    "prompt word wrap length limit" of 20). A textual-inversion token's vectors are never split between
//    chunks: when they do not fit in the current chunk they start the next one, as in the web UI.
// The weights are applied to the text encoder's output in PromptEncoder.
package dev.ldm4j.diffusion.prompt;

import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public final class A1111Prompt {
    /** The weight factor of one pair of round brackets. */
    public static final double ROUND = 1.1;
    /** The weight factor of one pair of square brackets. */
    public static final double SQUARE = 1 / 1.1;
    /** Prompt tokens per chunk (77 with BOS and EOS). */
    public static final int CHUNK_TOKENS = ClipTokenizer.CONTEXT_LENGTH - 2;
    /** How far back (in tokens) a full chunk looks for a comma to break at: the web UI's default. */
    public static final int COMMA_BACKTRACK = 20;

    // prompt_parser.re_attention, alternative for alternative: escaped brackets and backslashes, a lone
    // backslash, opening brackets, ":weight)", closing brackets, plain text, a lone colon.
    private static final Pattern ATTENTION = Pattern.compile(
            "\\\\\\(|\\\\\\)|\\\\\\[|\\\\]|\\\\\\\\|\\\\|\\(|\\[|:\\s*([+-]?[.\\d]+)\\s*\\)|\\)|]|[^\\\\()\\[\\]:]+|:",
            Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern BREAK = Pattern.compile("\\s*\\bBREAK\\b\\s*", Pattern.UNICODE_CHARACTER_CLASS | Pattern.DOTALL);

    private A1111Prompt() {
    }

    /**
     * A run of text with one weight. BREAK is the piece ("BREAK", -1), as in the web UI.
     */
    public record Piece(String text, double weight) {
        public boolean isBreak() {
            return weight == -1 && text.equals("BREAK");
        }
    }

    /**
     * One chunk for the text encoder.
     *
     * @param ids     77 ids: BOS, 75 tokens padded with EOS, EOS (after the first EOS the tokenizer's
     *                pad id where it differs from EOS, as the web UI does for SD 2.x)
     * @param weights 77 weights, 1 for BOS, EOS and padding
     */
    public record Chunk(int[] ids, float[] weights) {
        public Chunk {
            ids = ids.clone();
            weights = weights.clone();
        }

        @Override
        public int[] ids() {
            return ids.clone();
        }

        @Override
        public float[] weights() {
            return weights.clone();
        }

        /** True when every weight is 1 (the chunk's embeddings stay as the text encoder gives them). */
        public boolean unweighted() {
            for (float w : weights) {
                if (w != 1f) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public String toString() {
            return "Chunk" + Arrays.toString(ids);
        }
    }

    /**
     * The prompt's pieces with their weights, neighbours of equal weight merged (parse_prompt_attention).
     * An empty prompt is one empty piece of weight 1.
     *
     * @throws PromptSyntaxException for an explicit weight that is not a number, such as (x:1.2.3)
     */
    public static List<Piece> parse(String prompt) {
        List<String> texts = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        List<Integer> round = new ArrayList<>();   // stacks of positions in texts where a bracket opened
        List<Integer> square = new ArrayList<>();
        Matcher m = ATTENTION.matcher(prompt);
        while (m.find()) {
            String text = m.group();
            String weight = m.group(1);
            if (text.startsWith("\\")) {
                texts.add(text.substring(1));
                weights.add(1.0);
            } else if (text.equals("(")) {
                round.add(texts.size());
            } else if (text.equals("[")) {
                square.add(texts.size());
            } else if (weight != null && !round.isEmpty()) {
                multiply(weights, round.removeLast(), number(weight, text));
            } else if (text.equals(")") && !round.isEmpty()) {
                multiply(weights, round.removeLast(), ROUND);
            } else if (text.equals("]") && !square.isEmpty()) {
                multiply(weights, square.removeLast(), SQUARE);
            } else {
                String[] parts = BREAK.split(text, -1);
                for (int i = 0; i < parts.length; i++) {
                    if (i > 0) {
                        texts.add("BREAK");
                        weights.add(-1.0);
                    }
                    texts.add(parts[i]);
                    weights.add(1.0);
                }
            }
        }
        for (int at : round) {
            multiply(weights, at, ROUND);
        }
        for (int at : square) {
            multiply(weights, at, SQUARE);
        }
        if (texts.isEmpty()) {
            texts.add("");
            weights.add(1.0);
        }
        List<Piece> pieces = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            Piece last = pieces.isEmpty() ? null : pieces.getLast();
            if (last != null && last.weight() == weights.get(i)) {
                pieces.set(pieces.size() - 1, new Piece(last.text() + texts.get(i), last.weight()));
            } else {
                pieces.add(new Piece(texts.get(i), weights.get(i)));
            }
        }
        return pieces;
    }

    private static void multiply(List<Double> weights, int from, double factor) {
        for (int p = from; p < weights.size(); p++) {
            weights.set(p, weights.get(p) * factor);
        }
    }

    /** Python's float() of the weight text ([+-]?[.\d]+, any script's decimal digits). */
    private static double number(String weight, String match) {
        StringBuilder ascii = new StringBuilder(weight.length());
        weight.codePoints().forEach(c -> ascii.append(Character.isDigit(c) ? (char) ('0' + Character.digit(c, 10)) : (char) c));
        try {
            return Double.parseDouble(ascii.toString());
        } catch (NumberFormatException e) {
            throw new PromptSyntaxException("the prompt's weight '" + weight + "' in '" + match.strip() + "' is not a number");
        }
    }

    /** The number of prompt tokens of the pieces (BREAK not counted). */
    public static int tokenCount(List<Piece> pieces, ClipTokenizer tokenizer) {
        int n = 0;
        for (Piece p : pieces) {
            n += p.isBreak() ? 0 : tokenizer.tokenIds(p.text()).length;
        }
        return n;
    }

    /**
     * The chunks of the pieces (tokenize_line): each piece tokenized on its own, its tokens carrying its
     * weight, filled into chunks of 75 with BREAK and comma backtracking as described above. At least one
     * chunk (an empty prompt gives BOS, EOS and padding).
     */
    public static List<Chunk> chunks(List<Piece> pieces, ClipTokenizer tokenizer) {
        int comma = tokenizer.tokenIds(",")[0];
        Chunker c = new Chunker(tokenizer);
        for (Piece piece : pieces) {
            if (piece.isBreak()) {
                c.next();
                continue;
            }
            float weight = (float) piece.weight();
            int[] tokens = tokenizer.tokenIds(piece.text());
            for (int i = 0; i < tokens.length; i++) {
                int token = tokens[i];
                int vectors = tokenizer.addedTokenLength(token);
                if (vectors > 1 && c.size + vectors > CHUNK_TOKENS && vectors <= CHUNK_TOKENS) {
                    c.next();       // an embedding's vectors stay in one chunk, as the web UI keeps them
                }
                if (token == comma) {
                    c.lastComma = c.size;
                } else if (COMMA_BACKTRACK != 0 && c.size == CHUNK_TOKENS && c.lastComma != -1
                        && c.size - c.lastComma <= COMMA_BACKTRACK) {
                    // Move the text after the last comma to the next chunk.
                    int at = c.lastComma + 1;
                    int[] movedIds = Arrays.copyOfRange(c.ids, at, c.size);
                    float[] movedWeights = Arrays.copyOfRange(c.weights, at, c.size);
                    c.size = at;
                    c.next();
                    System.arraycopy(movedIds, 0, c.ids, 0, movedIds.length);
                    System.arraycopy(movedWeights, 0, c.weights, 0, movedWeights.length);
                    c.size = movedIds.length;
                }
                if (c.size == CHUNK_TOKENS) {
                    c.next();
                }
                c.ids[c.size] = token;
                c.weights[c.size] = weight;
                c.size++;
            }
        }
        if (c.size > 0 || c.done.isEmpty()) {
            c.next();
        }
        return List.copyOf(c.done);
    }

    /** The chunk being filled, and the finished ones. */
    private static final class Chunker {
        final ClipTokenizer tokenizer;
        final List<Chunk> done = new ArrayList<>();
        final int[] ids = new int[CHUNK_TOKENS];
        final float[] weights = new float[CHUNK_TOKENS];
        int size;
        int lastComma = -1;

        Chunker(ClipTokenizer tokenizer) {
            this.tokenizer = tokenizer;
        }

        /** Pads the current chunk with EOS, wraps it in BOS and EOS, and starts an empty one. */
        void next() {
            int len = ClipTokenizer.CONTEXT_LENGTH;
            int[] out = new int[len];
            float[] w = new float[len];
            Arrays.fill(out, tokenizer.eosId());
            Arrays.fill(w, 1f);
            out[0] = tokenizer.bosId();
            System.arraycopy(ids, 0, out, 1, size);
            System.arraycopy(weights, 0, w, 1, size);
            if (tokenizer.padId() != tokenizer.eosId()) {
                int firstEos = 1;
                while (out[firstEos] != tokenizer.eosId()) {
                    firstEos++;
                }
                Arrays.fill(out, firstEos + 1, len, tokenizer.padId());
            }
            done.add(new Chunk(out, w));
            size = 0;
            lastComma = -1;
        }
    }
}
