// The operand precision of the CUDA backend's matrix products (linear, matmul, conv2d). FP32 (the
// default) keeps every op in fp32 and matches the CPU backend to rounding. FP16 and BF16 run those
// products on tensor cores: weights are held on the device in the 16-bit type (converted once), F32
// activations are rounded to it while staged into shared memory, and products accumulate in fp32;
// every other op, and every tensor in memory apart from the weights, stays fp32. fp16 keeps 11
// significant bits (unit roundoff 2^-11, about 4.9e-4) but overflows above 65504; bf16 keeps 8 (2^-8,
// about 3.9e-3) with fp32's range.
package dev.ldm4j.kernels;

import dev.ldm4j.tensor.DType;
import java.util.Locale;

public enum CudaPrecision {
    FP32(DType.F32),
    FP16(DType.F16),
    BF16(DType.BF16);

    /** The system property, then the environment variable, that choose the precision of Backends.create("cuda"). */
    public static final String PROPERTY = "ldm4j.cuda.dtype";
    public static final String ENV = "LDM4J_CUDA_DTYPE";

    private final DType operand;

    CudaPrecision(DType operand) {
        this.operand = operand;
    }

    /** The dtype of the matrix-product operands (weights on the device, rounded activations). */
    public DType operandType() {
        return operand;
    }

    /** "fp32", "fp16" or "bf16" (case-insensitive); anything else fails with a one-line message naming the value. */
    public static CudaPrecision parse(String s) {
        return switch (s == null ? "" : s.trim().toLowerCase(Locale.ROOT)) {
            case "fp32", "f32", "float32" -> FP32;
            case "fp16", "f16", "float16", "half" -> FP16;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException("unknown CUDA dtype '" + s + "'; expected fp32, fp16 or bf16");
        };
    }

    /** The precision set by -Dldm4j.cuda.dtype, else by LDM4J_CUDA_DTYPE, else FP32. */
    public static CudaPrecision fromEnvironment() {
        String p = System.getProperty(PROPERTY);
        if (p != null && !p.isBlank()) {
            return parse(p);
        }
        String e = System.getenv(ENV);
        return e == null || e.isBlank() ? FP32 : parse(e);
    }

    /** The lower-case name used on the command line ("fp16"). */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
