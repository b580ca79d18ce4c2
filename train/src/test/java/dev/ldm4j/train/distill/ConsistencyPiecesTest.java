// The pieces of latent consistency distillation against their formulas: the boundary scalings c_skip and c_out
// (diffusers' get_scalings_for_boundary_condition_discrete, sigma_data 0.5, timestep_scaling 10), f(x, 0) = x
// exactly, the guidance embedding training feeds for w being the one the LCM pipeline feeds for guidance 1 + w,
// the target network's EMA update theta- <- mu theta- + (1 - mu) theta read through the live view the target
// U-Net is built over, and the consistency student's folder (zero cond_proj, LCM scheduler on the solver grid).
package dev.ldm4j.train.distill;

import dev.ldm4j.diffusion.pipeline.GuidanceScaleEmbedding;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.TrainableWeights;
import dev.ldm4j.train.optim.EmaModel;
import dev.ldm4j.train.optim.TrainableParams;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConsistencyPiecesTest {
    @Test
    void boundaryScalingsFollowTheFormulaAndFIsTheIdentityAtTimeZero() {
        for (int t : new int[] {0, 1, 19, 39, 259, 999}) {
            double scaled = 10.0 * t;
            double cSkip = 0.25 / (scaled * scaled + 0.25);
            double cOut = scaled / Math.sqrt(scaled * scaled + 0.25);
            double[] c = ConsistencyDistillation.boundaryScalings(t);
            assertEquals(cSkip, c[0], 1e-15, "c_skip(" + t + ")");
            assertEquals(cOut, c[1], 1e-15, "c_out(" + t + ")");
        }
        double[] zero = ConsistencyDistillation.boundaryScalings(0);
        assertEquals(1.0, zero[0], 0.0);
        assertEquals(0.0, zero[1], 0.0);
        double x = 0.8125, x0Pred = -3.5;
        assertEquals(x, zero[0] * x + zero[1] * x0Pred, 0.0, "f(x, 0) = x whatever the network predicts");
        double[] one = ConsistencyDistillation.boundaryScalings(1);
        assertEquals(0.25 / 100.25, one[0], 1e-15, "already at t = 1 the skip is small: c_skip = 0.0025");
        double[] last = ConsistencyDistillation.boundaryScalings(999);
        assertTrue(last[0] < 3e-9 && Math.abs(last[1] - 1) < 2e-9, "at t = 999, f is the network's estimate");
    }

    @Test
    void trainingEmbedsWAsThePipelineEmbedsGuidanceOnePlusW() {
        double[] w = {2.0, 4.5, 7.75};
        Tensor train = GuidanceScaleEmbedding.of(w, 256);
        for (int r = 0; r < w.length; r++) {
            Tensor pipe = GuidanceScaleEmbedding.forGuidanceScale(1 + w[r], 1, 256);
            float[] row = java.util.Arrays.copyOfRange(train.toFloatArray(), r * 256, (r + 1) * 256);
            assertArrayEquals(pipe.toFloatArray(), row, 0f, "w = " + w[r]);
        }
    }

    @Test
    void targetNetworkIsMuTimesItselfPlusOneMinusMuTimesTheStudent() {
        double mu = 0.95;
        TrainableParams params = new TrainableParams();
        float[] theta = {1f, -2f, 0.5f};
        params.add("unet.w", new int[] {3}, theta, new float[3]);
        EmaModel ema = new EmaModel(params, ConsistencyDistillation.targetEma(mu));
        TrainableWeights target = TrainableWeights.view("target", Map.of("w", Tensor.of(ema.shadow("unet.w"), 3)));
        theta[0] = 3f;
        ema.step();                                                       // the first step copies theta (EMAModel)
        assertArrayEquals(new float[] {3f, -2f, 0.5f}, target.tensor("w").toFloatArray(), 0f);
        for (int step = 0; step < 3; step++) {
            float[] before = target.tensor("w").toFloatArray().clone();
            for (int i = 0; i < theta.length; i++) {
                theta[i] += 0.25f * (i + 1);
            }
            ema.step();
            float[] after = target.tensor("w").toFloatArray();
            for (int i = 0; i < theta.length; i++) {
                assertEquals(mu * before[i] + (1 - mu) * theta[i], after[i], 1e-6, "theta-[" + i + "] after step " + (step + 2));
            }
            assertEquals(mu, ema.currentDecay(), 0.0);
        }
    }
}
