// Conditioning made from more than one prompt (issue 17): the conditional rows of the U-Net's context, the text
// encoder's output for the prompt, are replaced by
//  - Slerp: spherical linear interpolation (Shoemake 1985) towards another prompt's conditioning, at each of the
//    sequence's positions (a, b: the two prompts' vectors there, t in [0, 1]):
//        Omega = arccos(a . b / (|a| |b|)),   slerp(a, b; t) = sin((1 - t) Omega) / sin(Omega) a + sin(t Omega) / sin(Omega) b,
//    linear where Omega is too small for the division (a and b parallel, e.g. the begin-of-text position); t = 0 gives
//    a and t = 1 gives b exactly, so the ends of an interpolation are the two prompts' own images;
//  - Sum: embedding arithmetic, cond(prompt) + sum_i w_i cond(text_i) (e.g. "A - B + C": w = -1, +1), position by position.
// The negative prompt's rows are left as they are.
package dev.ldm4j.diffusion.pipeline;

import java.util.List;

public sealed interface PromptBlend {

    /** Towards other's conditioning by t in [0, 1]. */
    record Slerp(String other, double t) implements PromptBlend {
        public Slerp {
            if (other == null) {
                throw new IllegalArgumentException("the prompt to mix with must not be null");
            }
            if (!(t >= 0 && t <= 1)) {
                throw new IllegalArgumentException("a prompt mix weight must be in [0, 1], got " + t);
            }
        }
    }

    /** The prompt's conditioning plus each term's, weighted. */
    record Sum(List<Term> terms) implements PromptBlend {
        public Sum {
            terms = List.copyOf(terms);
            if (terms.isEmpty()) {
                throw new IllegalArgumentException("prompt arithmetic needs at least one term besides the prompt");
            }
        }
    }

    record Term(double weight, String text) {
        public Term {
            if (!Double.isFinite(weight) || text == null) {
                throw new IllegalArgumentException("a prompt arithmetic term needs a finite weight and a text");
            }
        }
    }

    /** The texts whose conditioning the blend needs besides the prompt's. */
    default List<String> texts() {
        return switch (this) {
            case Slerp s -> List.of(s.other());
            case Sum s -> s.terms().stream().map(Term::text).toList();
        };
    }

    /**
     * The blend of one position's vectors: a is the prompt's, others[i] that of texts().get(i); returns a new vector.
     */
    default float[] combine(float[] a, List<float[]> others) {
        return switch (this) {
            case Slerp s -> slerp(a, others.get(0), s.t());
            case Sum s -> {
                double[] acc = new double[a.length];
                for (int i = 0; i < a.length; i++) {
                    acc[i] = a[i];
                }
                for (int k = 0; k < s.terms().size(); k++) {
                    float[] o = others.get(k);
                    double w = s.terms().get(k).weight();
                    for (int i = 0; i < a.length; i++) {
                        acc[i] += w * o[i];
                    }
                }
                float[] out = new float[a.length];
                for (int i = 0; i < a.length; i++) {
                    out[i] = (float) acc[i];
                }
                yield out;
            }
        };
    }

    /** slerp(a, b; t), in double (see the file's header); linear when sin(Omega) < 1e-6. */
    static float[] slerp(float[] a, float[] b, double t) {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        double cos = na == 0 || nb == 0 ? 1 : Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
        double omega = Math.acos(cos);
        double sin = Math.sin(omega);
        double wa = sin < 1e-6 ? 1 - t : Math.sin((1 - t) * omega) / sin;
        double wb = sin < 1e-6 ? t : Math.sin(t * omega) / sin;
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (float) (wa * a[i] + wb * b[i]);
        }
        return out;
    }
}
