// Multi-head scaled dot-product attention on token-major q [B, Lq, H*D], k, v [B, Lk, H*D], computed
// flash-style: keys are visited in blocks with an online softmax (running max and running sum), so
// no [Lq, Lk] score matrix is ever stored.
// Reference: Dao et al., "FlashAttention", NeurIPS 2022, algorithm 1; Milakov and Gimelshein,
// "Online normalizer calculation for softmax", 2018.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Tensor;

final class Attention {
    static final int KEY_BLOCK = 64;
    static final int QUERY_BLOCK = 16;

    private Attention() {
    }

    static Tensor forward(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        int[] d = Shapes.attention("attention", q, k, v, heads);
        int b = d[0], lq = d[1], lk = d[2], hh = d[3], dh = d[4];
        int width = hh * dh;
        Views.Flat qf = Views.flat(q), kf = Views.flat(k), vf = Views.flat(v);
        float[] out = new float[Math.toIntExact((long) b * lq * width)];
        int qBlocks = (lq + QUERY_BLOCK - 1) / QUERY_BLOCK;
        Parallel.forEach(b * hh * qBlocks, (task, worker) -> {
            int qb = task % qBlocks;
            int h = (task / qBlocks) % hh;
            int bi = task / (qBlocks * hh);
            float[] s = new float[KEY_BLOCK];
            float[] o = new float[dh];
            for (int i = qb * QUERY_BLOCK; i < Math.min(lq, (qb + 1) * QUERY_BLOCK); i++) {
                int qAt = qf.off() + (bi * lq + i) * width + h * dh;
                int keys = causal ? Math.min(lk, i + 1) : lk;
                double m = Double.NEGATIVE_INFINITY;
                double l = 0;
                java.util.Arrays.fill(o, 0f);
                for (int j0 = 0; j0 < keys; j0 += KEY_BLOCK) {
                    int nb = Math.min(KEY_BLOCK, keys - j0);
                    float blockMax = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < nb; j++) {
                        int kAt = kf.off() + (bi * lk + j0 + j) * width + h * dh;
                        float dot = 0f;
                        for (int e = 0; e < dh; e++) {
                            dot += qf.a()[qAt + e] * kf.a()[kAt + e];
                        }
                        s[j] = dot * scale;
                        blockMax = Math.max(blockMax, s[j]);
                    }
                    double mNew = Math.max(m, blockMax);
                    float corr = (float) Math.exp(m - mNew);
                    l *= corr;
                    for (int e = 0; e < dh; e++) {
                        o[e] *= corr;
                    }
                    for (int j = 0; j < nb; j++) {
                        float pj = (float) Math.exp(s[j] - mNew);
                        l += pj;
                        int vAt = vf.off() + (bi * lk + j0 + j) * width + h * dh;
                        for (int e = 0; e < dh; e++) {
                            o[e] += pj * vf.a()[vAt + e];
                        }
                    }
                    m = mNew;
                }
                int outAt = (bi * lq + i) * width + h * dh;
                float inv = (float) (1.0 / l);
                for (int e = 0; e < dh; e++) {
                    out[outAt + e] = o[e] * inv;
                }
            }
        });
        return Tensor.of(out, b, lq, width);
    }
}
