// Pointwise activations the models use, with their scalar definitions (the reference for every kernel).
package dev.ldm4j.tensor;

public enum Activation {
    /** Identity. */
    NONE,
    /** x * sigmoid(x). */
    SILU,
    /** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)). */
    GELU,
    /** Tanh approximation of GELU: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
    GELU_TANH,
    /** CLIP's x * sigmoid(1.702 x). */
    QUICK_GELU
}
