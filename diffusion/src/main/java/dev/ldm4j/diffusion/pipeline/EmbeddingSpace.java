// The text-embedding space that conditions the U-Net, for looking at: a prompt's tokens, the input embedding of each
// token (a row of CLIP's token_embedding table) and the conditioning at each position (the text encoder's last hidden
// state, what the U-Net's cross-attention reads, as diffusers' encode_prompt gives it), the pooled vector (the
// last hidden state at the end-of-text position), cosine similarities, and the vocabulary tokens whose input
// embeddings lie nearest a given vector. ./ldm4j embed prints these.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.clip.ClipTextTransformer;
import dev.ldm4j.diffusion.tokenizer.ClipEncoding;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.tensor.Backend;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

public final class EmbeddingSpace {
    /**
     * One prompt in the space.
     *
     * @param text    the prompt
     * @param ids     its 77 token ids (BOS, tokens, EOS, padding), cut at 77 as diffusers does
     * @param length  the positions through the end-of-text token (BOS + tokens + EOS)
     * @param hidden  the conditioning, [77][D]: the last hidden state at each position
     * @param pooled  the last hidden state at the end-of-text position, [D]
     */
    public record Prompt(String text, int[] ids, int length, float[][] hidden, float[] pooled) {
    }

    /** A vocabulary token and its cosine similarity to the vector asked about. */
    public record Neighbour(int id, String token, double cosine) {
    }

    private final ClipTokenizer tokenizer;
    private final ClipTextTransformer encoder;
    private final Backend backend;
    private final int rows;
    private final int dim;
    private final float[] table;        // token_embedding [rows, dim], widened to float32
    private final double[] rowNorms;

    public EmbeddingSpace(ClipTokenizer tokenizer, ClipTextTransformer encoder, Backend backend) {
        this.tokenizer = tokenizer;
        this.encoder = encoder;
        this.backend = backend;
        this.rows = Math.min(encoder.config().vocabSize(), tokenizer.vocabSize());
        this.dim = encoder.config().hiddenSize();
        this.table = backend.toHost(encoder.tokenEmbedding()).toFloatArray();
        this.rowNorms = new double[rows];
        for (int r = 0; r < rows; r++) {
            rowNorms[r] = norm(table, r * dim, dim);
        }
    }

    /** A pipeline's text encoder and tokenizer as a space. */
    public static EmbeddingSpace of(StableDiffusionPipeline pipe, Backend backend) {
        return new EmbeddingSpace(pipe.tokenizer(), pipe.model().textEncoder(), backend);
    }

    public ClipTokenizer tokenizer() {
        return tokenizer;
    }

    public Prompt encode(String text) {
        ClipEncoding enc = tokenizer.encode(text);
        int[] ids = enc.ids();
        ClipTextTransformer.Output out = encoder.forward(new int[][] {ids});
        float[] last = backend.toHost(backend.contiguous(out.lastHiddenState())).toFloatArray();   // [1, 77, D]
        float[][] hidden = new float[ids.length][];
        for (int p = 0; p < ids.length; p++) {
            hidden[p] = java.util.Arrays.copyOfRange(last, p * dim, (p + 1) * dim);
        }
        float[] pooled = backend.toHost(backend.contiguous(out.pooled())).toFloatArray();          // [1, D]
        return new Prompt(text, ids, Math.min(enc.tokenCount() + 2, ids.length), hidden, pooled);
    }

    /** The input embedding of a token id: its row of token_embedding, [D]. */
    public float[] tokenEmbedding(int id) {
        if (id < 0 || id >= rows) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + rows);
        }
        return java.util.Arrays.copyOfRange(table, id * dim, (id + 1) * dim);
    }

    /** The k vocabulary tokens whose input embeddings have the largest cosine similarity to v, most similar first. */
    public List<Neighbour> nearest(float[] v, int k) {
        double vn = norm(v, 0, v.length);
        PriorityQueue<Neighbour> best = new PriorityQueue<>(Comparator.comparingDouble(Neighbour::cosine));
        for (int r = 0; r < rows; r++) {
            double dot = 0;
            for (int i = 0; i < dim; i++) {
                dot += (double) table[r * dim + i] * v[i];
            }
            double c = rowNorms[r] == 0 || vn == 0 ? 0 : dot / (rowNorms[r] * vn);
            if (best.size() < k || c > best.peek().cosine()) {
                best.add(new Neighbour(r, tokenizer.token(r), c));
                if (best.size() > k) {
                    best.poll();
                }
            }
        }
        List<Neighbour> out = new ArrayList<>(best);
        out.sort(Comparator.comparingDouble(Neighbour::cosine).reversed());
        return out;
    }

    /** cos(a, b) = a . b / (|a| |b|), in double; 0 when either is zero. */
    public static double cosine(float[] a, float[] b) {
        double dot = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
        }
        double n = norm(a, 0, a.length) * norm(b, 0, b.length);
        return n == 0 ? 0 : dot / n;
    }

    /** The Euclidean norm of v. */
    public static double norm(float[] v) {
        return norm(v, 0, v.length);
    }

    private static double norm(float[] v, int from, int n) {
        double s = 0;
        for (int i = from; i < from + n; i++) {
            s += (double) v[i] * v[i];
        }
        return Math.sqrt(s);
    }
}
