// The predicted x0 the sampling loop reports to a StepListener (for --trace): one per model evaluation, and at the last
// step of DDIM landing on alpha_bar = 1 it is the final latents themselves (x_prev = sqrt(1) x0 + 0 eps).
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.Scheduler;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class StepPredictionTest {
    @Test
    void theLastDdimPredictionIsTheFinalLatents() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        try (Backend backend = Backends.create("cpu");
             StableDiffusionPipeline pipe = StableDiffusionPipeline.load(SharedFixtures.conformance().resolve("sd1-tiny"), null, null, backend)) {
            GenerationRequest req = GenerationRequest.textToImage("a red apple").withSteps(4).withSize(64, 64).withSeed(2);
            Scheduler ddim = pipe.scheduler("ddim", false, Map.of("set_alpha_to_one", true, "clip_sample", false));
            List<float[]> predictions = new ArrayList<>();
            List<Double> sigmas = new ArrayList<>();
            StepListener listener = new StepListener() {
                @Override
                public void onStep(int step, int total, double timestep, float[] latents, long nanos) {
                }

                @Override
                public boolean wantsPredictions() {
                    return true;
                }

                @Override
                public void onPrediction(int step, int total, double sigma, float[] predictedX0) {
                    predictions.add(predictedX0.clone());
                    sigmas.add(sigma);
                }
            };
            GenerationResult r = pipe.generate(req, ddim, new TorchGenerator(2), listener);
            assertEquals(4, predictions.size());
            for (int i = 1; i < 4; i++) {
                assertEquals(true, sigmas.get(i) < sigmas.get(i - 1), "sigmas fall");
            }
            assertArrayEquals(r.latents(), predictions.get(3), 1e-5f);
        }
    }
}
