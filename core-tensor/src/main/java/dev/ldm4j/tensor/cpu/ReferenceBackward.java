// The scalar twins of the backward primitives, for CpuReference: plain loops over logical indices in
// double, no blocking, no threads, no vectors. Each recomputes what it needs from the forward's inputs
// exactly as CpuReference's forward computes it, then applies the chain rule written out in full.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Tensor;

final class ReferenceBackward {
    private ReferenceBackward() {
    }

    private static double at(float[] a, int i) {
        return a == null ? 1.0 : a[i];
    }

    /** dy act'(x), act' from CpuReference.act's definitions. */
    static Tensor activation(Tensor x, Tensor dy, Activation act) {
        float[] xa = x.toFloatArray(), ga = dy.toFloatArray();
        for (int i = 0; i < xa.length; i++) {
            xa[i] = (float) (ga[i] * actGrad(act == null ? Activation.NONE : act, xa[i]));
        }
        return Tensor.of(xa, x.shape());
    }

    /** [value, gate] -> [dy gelu(gate), dy value gelu'(gate)]. */
    static Tensor geglu(Tensor x, Tensor dy) {
        int two = x.dim(-1), f = two / 2;
        float[] xa = x.toFloatArray(), ga = dy.toFloatArray();
        float[] dx = new float[xa.length];
        for (int r = 0; two > 0 && r < xa.length / two; r++) {
            for (int j = 0; j < f; j++) {
                double value = xa[r * two + j], gate = xa[r * two + f + j], g = ga[r * f + j];
                dx[r * two + j] = (float) (g * CpuReference.act(Activation.GELU, gate));
                dx[r * two + f + j] = (float) (g * value * actGrad(Activation.GELU, gate));
            }
        }
        return Tensor.of(dx, x.shape());
    }

    /** The derivatives of the activations, in double. */
    static double actGrad(Activation act, double x) {
        return switch (act) {
            case NONE -> 1;
            case SILU -> {
                double s = 1 / (1 + Math.exp(-x));
                yield s * (1 + x * (1 - s));
            }
            case GELU -> 0.5 * (1 + CpuReference.erf(x / Math.sqrt(2))) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
            case GELU_TANH -> {
                double k = Math.sqrt(2 / Math.PI), t = Math.tanh(k * (x + 0.044715 * x * x * x));
                yield 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
            }
            case QUICK_GELU -> {
                double s = 1 / (1 + Math.exp(-1.702 * x));
                yield s + 1.702 * x * s * (1 - s);
            }
        };
    }

    private static float[] toFloat(double[] a) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (float) a[i];
        }
        return out;
    }
}
