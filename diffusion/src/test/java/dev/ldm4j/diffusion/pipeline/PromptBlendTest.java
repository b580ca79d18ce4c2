// Conditioning blended from more prompts: slerp against its geometry in float64 (unit vectors stay unit and turn by
// t Omega; the ends are the inputs exactly), and in the sampling loop on the tiny SD 1.x model: mixing by 0 or 1 gives
// the two prompts' own runs bit for bit, a weight-0 arithmetic term changes nothing, and a mix of 0.5 is neither.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class PromptBlendTest {
    private static float[] random(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    @Test
    void slerpTurnsUnitVectorsByTOmegaAndKeepsTheEnds() {
        Random r = new Random(4);
        int n = 64;
        double[] a = new double[n];
        double[] b = new double[n];
        float[] fa = random(r, n);
        float[] fb = random(r, n);
        double na = 0, nb = 0;
        for (int i = 0; i < n; i++) {
            na += fa[i] * (double) fa[i];
            nb += fb[i] * (double) fb[i];
        }
        for (int i = 0; i < n; i++) {
            fa[i] = (float) (fa[i] / Math.sqrt(na));
            fb[i] = (float) (fb[i] / Math.sqrt(nb));
            a[i] = fa[i];
            b[i] = fb[i];
        }
        double omega = Math.acos(dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b)));
        for (double t : new double[] {0.1, 0.3, 0.5, 0.9}) {
            float[] s = PromptBlend.slerp(fa, fb, t);
            double[] d = new double[n];
            for (int i = 0; i < n; i++) {
                d[i] = s[i];
            }
            assertEquals(1.0, Math.sqrt(dot(d, d)), 1e-6, "a unit vector at t = " + t);
            assertEquals(Math.cos(t * omega), dot(d, a), 1e-6, "turned by t Omega from a");
            assertEquals(Math.cos((1 - t) * omega), dot(d, b), 1e-6, "and by (1 - t) Omega from b");
        }
        assertArrayEquals(fa, PromptBlend.slerp(fa, fb, 0));
        assertArrayEquals(fb, PromptBlend.slerp(fa, fb, 1));
        assertArrayEquals(fa, PromptBlend.slerp(fa, fa.clone(), 0.4), 1e-7f, "parallel vectors: linear");
        assertThrows(IllegalArgumentException.class, () -> new PromptBlend.Slerp("b", 1.5));
    }

    private static double dot(double[] x, double[] y) {
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }

    // ---- in the sampling loop, sd1-tiny

    private static Backend backend;
    private static StableDiffusionPipeline pipe;

    @BeforeAll
    static void load() {
        if (SharedFixtures.available()) {
            backend = Backends.create("cpu");
            pipe = StableDiffusionPipeline.load(SharedFixtures.conformance().resolve("sd1-tiny"), null, null, backend);
        }
    }

    @AfterAll
    static void close() {
        if (pipe != null) {
            pipe.close();
        }
    }

    private static float[] run(String prompt, PromptBlend blend) {
        GenerationRequest req = GenerationRequest.textToImage(prompt).withSteps(3).withSize(64, 64).withSeed(8).withScheduler("ddim", false);
        return pipe.generate(req, SamplingOptions.DEFAULT.withPromptBlend(blend), pipe.scheduler("ddim", false),
                new TorchGenerator(req.seed()), StepListener.NONE).images().get(0).data();
    }

    @Test
    void theEndsOfAMixAreTheTwoPromptsImagesBitForBit() {
        assumeTrue(pipe != null, "shared fixtures not present");
        String a = "a red apple on a wooden table";
        String b = "an astronaut riding a horse on mars";
        float[] imageA = run(a, null);
        float[] imageB = run(b, null);
        assertArrayEquals(imageA, run(a, new PromptBlend.Slerp(b, 0)));
        assertArrayEquals(imageB, run(a, new PromptBlend.Slerp(b, 1)));
        float[] half = run(a, new PromptBlend.Slerp(b, 0.5));
        assertFalse(Arrays.equals(half, imageA) || Arrays.equals(half, imageB));
        assertArrayEquals(imageA, run(a, new PromptBlend.Sum(List.of(new PromptBlend.Term(0, b)))), "a weight-0 term adds nothing");
        assertFalse(Arrays.equals(imageA, run(a, new PromptBlend.Sum(List.of(new PromptBlend.Term(-1, b))))));
    }
}
