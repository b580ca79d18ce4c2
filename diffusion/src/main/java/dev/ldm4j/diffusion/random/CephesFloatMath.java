// Single-precision log and sincos exactly as PyTorch's avx_mathfun.h computes them (Cephes
// polynomials after Julien Pommier's sse_mathfun, rewritten for AVX by G. Garberoglio): PyTorch's
// AVX2 CPU kernel for torch.randn uses these, so bit-exact noise needs the same operations in the
// same order, each rounded to float. PyTorch's AVX2 build compiles with -mfma and GCC contracts
// each multiply feeding an add into one fused multiply-add, so those steps are Math.fma here
// (checked bit for bit against randn.safetensors). Written from the published algorithm, one lane
// at a time.
package dev.ldm4j.diffusion.random;

final class CephesFloatMath {
    private CephesFloatMath() {
    }

    private static final float SQRTHF = (float) 0.707106781186547524;
    private static final float LOG_P0 = (float) 7.0376836292E-2;
    private static final float LOG_P1 = (float) -1.1514610310E-1;
    private static final float LOG_P2 = (float) 1.1676998740E-1;
    private static final float LOG_P3 = (float) -1.2420140846E-1;
    private static final float LOG_P4 = (float) 1.4249322787E-1;
    private static final float LOG_P5 = (float) -1.6668057665E-1;
    private static final float LOG_P6 = (float) 2.0000714765E-1;
    private static final float LOG_P7 = (float) -2.4999993993E-1;
    private static final float LOG_P8 = (float) 3.3333331174E-1;
    private static final float LOG_Q1 = (float) -2.12194440e-4;
    private static final float LOG_Q2 = (float) 0.693359375;

    private static final float MINUS_DP1 = (float) -0.78515625;
    private static final float MINUS_DP2 = (float) -2.4187564849853515625e-4;
    private static final float MINUS_DP3 = (float) -3.77489497744594108e-8;
    private static final float SINCOF_P0 = (float) -1.9515295891E-4;
    private static final float SINCOF_P1 = (float) 8.3321608736E-3;
    private static final float SINCOF_P2 = (float) -1.6666654611E-1;
    private static final float COSCOF_P0 = (float) 2.443315711809948E-005;
    private static final float COSCOF_P1 = (float) -1.388731625493765E-003;
    private static final float COSCOF_P2 = (float) 4.166664568298827E-002;
    private static final float FOPI = (float) 1.27323954473516; // 4 / pi

    /**
     * Natural log for x > 0 (NaN for x <= 0): split x = m * 2^e with m in [0.5, 1), move m to
     * [sqrt(1/2), sqrt(2)) - 1, then log(1 + x) ~ x - x^2/2 + x^3 P(x) plus e * log(2) in two parts.
     */
    static float log(float x) {
        if (!(x > 0f)) {
            return Float.NaN;
        }
        x = Math.max(x, Float.MIN_NORMAL);
        int bits = Float.floatToRawIntBits(x);
        float e = (float) ((bits >>> 23) - 0x7f);
        x = Float.intBitsToFloat((bits & ~0x7f800000) | Float.floatToRawIntBits(0.5f));
        e = e + 1f;
        boolean small = x < SQRTHF;
        float tmp = small ? x : 0f;
        x = x - 1f;
        e = e - (small ? 1f : 0f);
        x = x + tmp;

        float z = x * x;
        float y = LOG_P0;
        y = Math.fma(y, x, LOG_P1);
        y = Math.fma(y, x, LOG_P2);
        y = Math.fma(y, x, LOG_P3);
        y = Math.fma(y, x, LOG_P4);
        y = Math.fma(y, x, LOG_P5);
        y = Math.fma(y, x, LOG_P6);
        y = Math.fma(y, x, LOG_P7);
        y = Math.fma(y, x, LOG_P8);
        y = y * x;
        y = Math.fma(y, z, e * LOG_Q1);
        y = Math.fma(-z, 0.5f, y);
        return Math.fma(e, LOG_Q2, x + y);
    }

    /**
     * Sine and cosine of x together (|x| well below 8192): reduce by multiples of pi/4 with the
     * three-part constant DP1 + DP2 + DP3, evaluate the Cephes sin and cos polynomials on
     * [-pi/4, pi/4], and pick and sign each result by the octant. Writes {sin, cos} to out.
     */
    static void sincos(float x, float[] out) {
        boolean negative = Float.floatToRawIntBits(x) < 0;
        x = Math.abs(x);
        int j = (int) (x * FOPI); // truncation, as cvttps2dq
        j = (j + 1) & ~1;
        float y = (float) j;
        boolean sinFlip = negative ^ ((j & 4) != 0);
        boolean cosFlip = ((~(j - 2)) & 4) != 0;
        boolean sinPolyIsSin = (j & 2) == 0;

        x = Math.fma(y, MINUS_DP1, x);
        x = Math.fma(y, MINUS_DP2, x);
        x = Math.fma(y, MINUS_DP3, x);

        float z = x * x;
        float c = COSCOF_P0;
        c = Math.fma(c, z, COSCOF_P1);
        c = Math.fma(c, z, COSCOF_P2);
        c = c * z;
        c = Math.fma(c, z, -(z * 0.5f));
        c = c + 1f;

        float s = SINCOF_P0;
        s = Math.fma(s, z, SINCOF_P1);
        s = Math.fma(s, z, SINCOF_P2);
        s = s * z;
        s = Math.fma(s, x, x);

        float sinPart = sinPolyIsSin ? s : 0f;
        float cosPart = sinPolyIsSin ? 0f : c;
        float sinResult = cosPart + sinPart;
        float cosResult = (c - cosPart) + (s - sinPart);
        out[0] = sinFlip ? -sinResult : sinResult;
        out[1] = cosFlip ? -cosResult : cosResult;
    }
}
