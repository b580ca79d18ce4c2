// The text encoder's backward, which has no PyTorch reference in the fixtures, against central finite
// differences, chained from the U-Net's context gradient: L = sum(last_hidden_state * dL/dcontext) has the
// same parameter gradient as the whole noise-regression loss of train_golden (sd1-tiny, text rows 0 and 2), so
// the check covers the text encoder as it trains jointly. A sample of elements from every tensor of every
// layer (embeddings, each layer's attention, MLP and norms, the final norm), and one token row no prompt uses
// (its gradient must be exactly zero). The forward is float32; the difference quotient (central, steps 1e-2 and
// 5e-3 combined by Richardson's extrapolation) carries rounding of about 1e-6 of L's terms, which for the smallest gradients (key projections, token rows)
// reaches a few 1e-3 of them (measured: at most 2.8e-3); the tolerance, 1e-2 relative over the sampled elements
// of one tensor, leaves room for that and for nothing a wrong rule would give (errors of order 1).
package dev.ldm4j.train;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.clip.ClipTextTransformer;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.WeightSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TextEncoderGradientTest {
    @Test
    void chainedFromTheContextGradientItMatchesFiniteDifferences() {
        Path dir = ModelGradientsTest.model("sd1-tiny");
        Backend cpu = Backends.create("cpu");
        AutogradBackend ag = new AutogradBackend(cpu);
        try (WeightSource file = SafetensorsFile.open(dir.resolve("text_encoder/model.safetensors"));
             WeightSource text = SafetensorsFile.open(dir.resolve("text_golden.safetensors"));
             WeightSource train = SafetensorsFile.open(dir.resolve("train_golden.safetensors"))) {
            TrainableWeights weights = TrainableWeights.copyOf(file);
            weights.parameters().values().forEach(ag::requireGrad);
            ClipTextConfig config = ClipTextConfig.fromJson(Json.parseObject(dir.resolve("text_encoder/config.json")));
            ClipTextTransformer trained = new ClipTextTransformer(Params.root(weights, ag), config);
            ClipTextTransformer plain = new ClipTextTransformer(Params.root(weights, cpu), config);
            float[] allIds = text.tensor("text.ids").toFloatArray();
            int[][] ids = new int[2][77];
            for (int j = 0; j < 77; j++) {
                ids[0][j] = (int) allIds[j];
                ids[1][j] = (int) allIds[2 * 77 + j];
            }
            Tensor dContext = ModelGradientsTest.dense(train, "train.grad.context");          // [2, 77, 32]
            Tensor context = trained.forward(ids).lastHiddenState();
            assertTrue(ModelGradientsTest.relativeError(context.toFloatArray(), ModelGradientsTest.dense(train, "train.context").toFloatArray()) < 1e-5);
            AutogradBackend.Gradients grads = ag.backward(Losses.total(ag, ag.mul(context, dContext)));

            SplittableRandom random = new SplittableRandom(7);
            double h = 1e-2;
            int tensors = 0;
            for (Map.Entry<String, Tensor> p : weights.parameters().entrySet()) {
                float[] value = p.getValue().data();
                float[] analytic = grads.of(p.getValue()).toFloatArray();
                int[] sample = new int[6];
                if (p.getKey().endsWith("token_embedding.weight")) {
                    int d = p.getValue().dim(1);
                    for (int i = 0; i < sample.length; i++) {
                        sample[i] = ids[i % 2][1 + i] * d + random.nextInt(d);             // rows the prompts use
                    }
                    int unused = 1000 * d + 3;                                             // id 1000 is in neither prompt
                    assertEquals(0f, analytic[unused], "an unused token row gets no gradient");
                } else {
                    for (int i = 0; i < sample.length; i++) {
                        sample[i] = random.nextInt(value.length);
                    }
                }
                double diff2 = 0, norm2 = 0;
                for (int at : sample) {
                    // Richardson's extrapolation of two central differences cancels the h^2 term.
                    double numeric = (4 * central(plain, ids, dContext, value, at, h / 2) - central(plain, ids, dContext, value, at, h)) / 3;
                    diff2 += (numeric - analytic[at]) * (numeric - analytic[at]);
                    norm2 += numeric * numeric;
                }
                double err = Math.sqrt(diff2 / Math.max(norm2, 1e-30));
                assertTrue(err <= 1e-2 || Math.sqrt(norm2) < 1e-7, p.getKey() + ": relative error " + err);
                tensors++;
            }
            assertEquals(weights.parameters().size(), tensors);
        }
    }

    private static double central(ClipTextTransformer model, int[][] ids, Tensor dContext, float[] value, int at, double h) {
        float keep = value[at];
        value[at] = (float) (keep + h);
        double up = loss(model, ids, dContext);
        value[at] = (float) (keep - h);
        double down = loss(model, ids, dContext);
        value[at] = keep;
        return (up - down) / (2 * h);
    }

    private static double loss(ClipTextTransformer model, int[][] ids, Tensor dContext) {
        float[] c = model.forward(ids).lastHiddenState().toFloatArray(), g = dContext.toFloatArray();
        double s = 0;
        for (int i = 0; i < c.length; i++) {
            s += (double) c[i] * g[i];
        }
        return s;
    }
}
