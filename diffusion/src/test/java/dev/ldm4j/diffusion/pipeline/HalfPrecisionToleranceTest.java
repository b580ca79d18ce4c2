// The image tolerance stated for the GPU's FP16/BF16 modes (GpuBench: against the CPU fp32 image, fp16
// max 3/255 and mean 0.25/255, bf16 max 12/255 and mean 1.5/255), checked here for the arithmetic those
// modes do, without a GPU: a CPU backend whose matrix products (linear, matmul, conv2d and their fused
// forms) and attention see their operands rounded to fp16 or bf16 (round to nearest even) and
// accumulate in fp32, as the tensor cores do. Biases, residuals, norms and pointwise ops stay fp32, as
// on the GPU. Not modelled: the GPU kernels' own summation order (fp32, far below these bounds) and the
// rounding of the softmax weights P inside the fused attention.
package dev.ldm4j.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HalfPrecisionToleranceTest {
    private static final GenerationRequest REQUEST = GenerationRequest.textToImage("a lighthouse at dusk, oil painting").withSteps(5)
            .withSize(128, 128).withGuidanceScale(7.5).withScheduler("euler_a", false).withSeed(1234);

    /** Ops whose leading tensor operands the tensor-core modes round: x and w, or q, k and v. */
    private static final Set<String> PRODUCTS = Set.of("linear", "linearAdd", "linearGeglu", "matmul", "conv2d", "conv2dAdd");

    private static float round(float v, boolean bf16) {
        if (!bf16) {
            return Float.float16ToFloat(Float.floatToFloat16(v));
        }
        int u = Float.floatToRawIntBits(v);
        return Float.intBitsToFloat(((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16);
    }

    private static Tensor rounded(Tensor t, boolean bf16) {
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] = round(v[i], bf16);
        }
        return Tensor.of(v, t.shape());
    }

    private static Backend roundingCpu(Backend cpu, boolean bf16) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (proxy, method, args) -> {
            int operands = PRODUCTS.contains(method.getName()) ? 2 : method.getName().equals("attention") ? 3 : 0;
            Object[] a = args == null ? null : args.clone();
            for (int i = 0; i < operands; i++) {
                a[i] = rounded((Tensor) a[i], bf16);
            }
            try {
                return method.invoke(cpu, a);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    private static float[] image(Backend b) {
        Path dir = SharedFixtures.conformance().resolve("sd1-tiny");
        try (StableDiffusionPipeline p = StableDiffusionPipeline.load(dir, null, null, b)) {
            return p.generate(REQUEST, StepListener.NONE).images().get(0).data();
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void roundedOperandsKeepTheImageWithinTheStatedTolerance(boolean bf16) {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        Backend cpu = Backends.create("cpu");
        float[] want = image(cpu), got = image(roundingCpu(cpu, bf16));
        double max = 0, sum = 0;
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs((double) got[i] - want[i]) * 255;
            max = Math.max(max, d);
            sum += d;
        }
        double mean = sum / want.length;
        double maxBound = bf16 ? 12 : 3, meanBound = bf16 ? 1.5 : 0.25;
        System.out.printf("%s operands: largest pixel difference %.3f/255 (bound %.0f), mean %.4f/255 (bound %.2f)%n", bf16 ? "bf16" : "fp16",
                max, maxBound, mean, meanBound);
        assertTrue(max <= maxBound && mean <= meanBound, (bf16 ? "bf16" : "fp16") + ": max " + max + "/255, mean " + mean + "/255");
        assertTrue(max > 0, "rounding changed nothing: were the operands rounded?");
    }
}
