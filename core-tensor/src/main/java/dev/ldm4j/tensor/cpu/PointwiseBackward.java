// Backward of the pointwise activations and GEGLU (Pointwise) on the CPU backend: dx = dy * act'(x),
// scalar (in double, for loop tails) and in float Vector API lanes through the same exp and erfc fits
// as the forward. The derivatives:
//   SILU        s (1 + x (1 - s)),                s = sigmoid(x)
//   GELU        Phi(x) + x phi(x),                Phi(x) = erfc(-x / sqrt 2) / 2, phi(x) = e^(-x^2/2) / sqrt(2 pi)
//   GELU_TANH   (1 + t) / 2 + x (1 - t^2) k (1 + 3 c x^2) / 2,  t = tanh(k (x + c x^3)), k = sqrt(2/pi), c = 0.044715
//   QUICK_GELU  s + 1.702 x s (1 - s),            s = sigmoid(1.702 x)
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

final class PointwiseBackward {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final double INV_SQRT2 = 0.7071067811865476;
    private static final double INV_SQRT_2PI = 0.3989422804014327;
    private static final double SQRT_2_OVER_PI = 0.7978845608028654;
    private static final double TANH_C = 0.044715;

    private PointwiseBackward() {
    }

    /** silu'(y) = s (1 + y (1 - s)), s = sigmoid(y). */
    static FloatVector siluGrad(FloatVector y) {
        FloatVector s = FloatVector.broadcast(S, 1f).div(Pointwise.exp(y.neg()).add(1f));
        return s.mul(y.mul(s.neg().add(1f)).add(1f));
    }

    static float siluGrad(float y) {
        double s = 1.0 / (1.0 + Math.exp(-y));
        return (float) (s * (1 + y * (1 - s)));
    }

    /** Phi(x), the standard normal distribution function, through the forward's erfc fit. */
    private static FloatVector normalCdf(FloatVector x) {
        return Pointwise.erfcNeg(x.mul((float) INV_SQRT2)).mul(0.5f);
    }

    private static double normalCdf(double x) {
        double z = x * INV_SQRT2;
        return 0.5 * (z >= 0 ? 2.0 - Pointwise.erfcNonNegative(z) : Pointwise.erfcNonNegative(-z));
    }

    /** phi(x), the standard normal density. */
    private static FloatVector normalPdf(FloatVector x) {
        return Pointwise.exp(x.mul(x).mul(-0.5f)).mul((float) INV_SQRT_2PI);
    }

    /** act'(x) in float lanes. */
    static FloatVector grad(Activation act, FloatVector x) {
        return switch (act) {
            case NONE -> FloatVector.broadcast(S, 1f);
            case SILU -> siluGrad(x);
            case GELU -> x.fma(normalPdf(x), normalCdf(x));
            case GELU_TANH -> {
                FloatVector x2 = x.mul(x);
                FloatVector u = x2.mul((float) TANH_C).fma(x, x).mul((float) SQRT_2_OVER_PI);
                // tanh u = 1 - 2 / (e^(2u) + 1): exact limits +-1, no cancellation where it matters
                FloatVector t = FloatVector.broadcast(S, -2f).div(Pointwise.exp(u.mul(2f)).add(1f)).add(1f);
                FloatVector du = x2.mul((float) (3 * TANH_C * SQRT_2_OVER_PI)).add((float) SQRT_2_OVER_PI);
                FloatVector sech2 = t.neg().fma(t, FloatVector.broadcast(S, 1f));
                yield t.add(1f).add(x.mul(sech2).mul(du)).mul(0.5f);
            }
            case QUICK_GELU -> {
                FloatVector s = FloatVector.broadcast(S, 1f).div(Pointwise.exp(x.mul(-1.702f)).add(1f));
                yield x.mul(1.702f).mul(s).fma(s.neg().add(1f), s);
            }
        };
    }

    /** act'(x), evaluated in double. */
    static float grad(Activation act, float xf) {
        double x = xf;
        return (float) switch (act) {
            case NONE -> 1.0;
            case SILU -> siluGrad(xf);
            case GELU -> normalCdf(x) + x * Math.exp(-0.5 * x * x) * INV_SQRT_2PI;
            case GELU_TANH -> {
                double t = Math.tanh(SQRT_2_OVER_PI * (x + TANH_C * x * x * x));
                yield 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * TANH_C * x * x);
            }
            case QUICK_GELU -> {
                double s = 1.0 / (1.0 + Math.exp(-1.702 * x));
                yield s + 1.702 * x * s * (1 - s);
            }
        };
    }

    static Tensor activation(Tensor x, Tensor dy, Activation act) {
        Shapes.requireSameShape("activationBackward", x, dy);
        Activation a = act == null ? Activation.NONE : act;
        Views.Flat xf = Views.flat(x), df = Views.flat(dy);
        float[] dx = new float[Math.toIntExact(x.numel())];
        Parallel.forRange(dx.length, 1 << 14, (from, to, worker) -> {
            int i = from;
            // one loop per activation keeps each loop body small enough to inline
            switch (a) {
                case NONE -> {
                    System.arraycopy(df.a(), df.off() + from, dx, from, to - from);
                    i = to;
                }
                case SILU -> {
                    for (; i <= to - L; i += L) {
                        FloatVector.fromArray(S, df.a(), df.off() + i).mul(siluGrad(FloatVector.fromArray(S, xf.a(), xf.off() + i))).intoArray(dx, i);
                    }
                }
                case GELU -> {
                    for (; i <= to - L; i += L) {
                        FloatVector.fromArray(S, df.a(), df.off() + i).mul(grad(Activation.GELU, FloatVector.fromArray(S, xf.a(), xf.off() + i))).intoArray(dx, i);
                    }
                }
                default -> {
                    for (; i <= to - L; i += L) {
                        FloatVector.fromArray(S, df.a(), df.off() + i).mul(grad(a, FloatVector.fromArray(S, xf.a(), xf.off() + i))).intoArray(dx, i);
                    }
                }
            }
            for (; i < to; i++) {
                dx[i] = df.a()[df.off() + i] * grad(a, xf.a()[xf.off() + i]);
            }
        });
        return Tensor.of(dx, x.shape());
    }

    /** x [..., 2F] = [value, gate], dy [..., F] -> dx [..., 2F] = [dy gelu(gate), dy value gelu'(gate)]. */
    static Tensor geglu(Tensor x, Tensor dy) {
        String op = "gegluBackward";
        if (x.rank() < 1 || x.dim(-1) % 2 != 0) {
            throw Shapes.bad(op, "last dimension of x " + Shapes.s(x) + " must be even");
        }
        int two = x.dim(-1), f = two / 2;
        int[] dyShape = x.shape();
        dyShape[dyShape.length - 1] = f;
        if (dy == null || !Arrays.equals(dy.shape(), dyShape)) {
            throw Shapes.bad(op, "dy " + (dy == null ? "null" : Shapes.s(dy)) + " must have shape " + Arrays.toString(dyShape) + " for x " + Shapes.s(x));
        }
        int rows = two == 0 ? 0 : Math.toIntExact(x.numel() / two);
        Views.Flat xf = Views.flat(x), df = Views.flat(dy);
        float[] dx = new float[Math.toIntExact(x.numel())];
        Parallel.forRange(rows, Math.max(1, (1 << 13) / Math.max(1, f)), (from, to, worker) -> {
            for (int r = from; r < to; r++) {
                int va = xf.off() + r * two, ga = va + f, d = df.off() + r * f, o = r * two;
                int j = 0;
                for (; j <= f - L; j += L) {
                    FloatVector gate = FloatVector.fromArray(S, xf.a(), ga + j);
                    FloatVector dyv = FloatVector.fromArray(S, df.a(), d + j);
                    FloatVector cdf = normalCdf(gate);
                    dyv.mul(gate.mul(cdf)).intoArray(dx, o + j);
                    dyv.mul(FloatVector.fromArray(S, xf.a(), va + j)).mul(gate.fma(normalPdf(gate), cdf)).intoArray(dx, o + f + j);
                }
                for (; j < f; j++) {
                    float gate = xf.a()[ga + j], dyv = df.a()[d + j];
                    dx[o + j] = dyv * Pointwise.gelu(gate);
                    dx[o + f + j] = dyv * xf.a()[va + j] * grad(Activation.GELU, gate);
                }
            }
        });
        return Tensor.of(dx, x.shape());
    }
}
