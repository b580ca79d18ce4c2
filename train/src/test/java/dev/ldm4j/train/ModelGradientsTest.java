// Whole-model gradients against PyTorch's own (../shared/conformance/{sd1,sd2}-tiny/train_golden and
// vae_train_golden, float64 diffusers 0.31 / PyTorch 1.13, see that README's "Training references"): one
// noise-regression step of each tiny U-Net (epsilon for sd1-tiny, v-prediction for sd2-tiny) with the
// gradient of every parameter, of the context and of the noisy input; and one KL-VAE step with every
// parameter's gradient. Tolerances as the README suggests: loss 1e-5 relative, each gradient 1e-4
// relative (L2 over the tensor). Each runs as recorded op by op and with gradient checkpointing of every
// resnet and transformer block (the blocks recomputed in backward), which must give the same gradients
// while keeping fewer activations.
package dev.ldm4j.train;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.schedulers.ForwardProcess;
import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.WeightSource;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ModelGradientsTest {
    private static final double LOSS_TOLERANCE = 1e-5;
    private static final double GRAD_TOLERANCE = 1e-4;

    static Path model(String name) {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        return SharedFixtures.conformance().resolve(name);
    }

    static Tensor dense(WeightSource s, String key) {
        Tensor t = s.tensor(key);
        return Tensor.of(t.toFloatArray(), t.shape());
    }

    /**
     * Gradient check of every parameter: ||got - ref|| <= 1e-4 max(||ref||, 1e-3 ||all reference gradients||). The floor
     * matters only for gradients that are zero in exact arithmetic and float rounding noise in both references
     * (a conv bias before a group norm of one channel per group, the key projection's bias, which softmax cancels):
     * there a relative error says nothing, so the error is measured against the gradient's overall scale.
     */
    static void checkGradients(String what, Map<String, float[]> got, Map<String, float[]> ref) {
        double global = 0;
        for (float[] r : ref.values()) {
            for (float v : r) {
                global += (double) v * v;
            }
        }
        double floor = 1e-3 * Math.sqrt(global);
        double worst = 0;
        String worstName = null;
        for (String name : ref.keySet()) {
            float[] g = got.get(name), r = ref.get(name);
            double d = 0, n = 0;
            for (int i = 0; i < r.length; i++) {
                d += (g[i] - (double) r[i]) * (g[i] - (double) r[i]);
                n += (double) r[i] * r[i];
            }
            double err = Math.sqrt(d) / Math.max(Math.sqrt(n), floor);
            if (err > worst) {
                worst = err;
                worstName = name;
            }
        }
        assertTrue(worst <= GRAD_TOLERANCE, what + ": worst gradient " + worstName + ", error " + worst);
    }

    static double relativeError(float[] got, float[] want) {
        double d = 0, n = 0;
        for (int i = 0; i < want.length; i++) {
            d += (got[i] - (double) want[i]) * (got[i] - (double) want[i]);
            n += (double) want[i] * want[i];
        }
        return Math.sqrt(d / Math.max(n, 1e-300));
    }

    @ParameterizedTest
    @CsvSource({"sd1-tiny,false", "sd2-tiny,false", "sd1-tiny,true", "sd2-tiny,true"})
    void unetNoiseRegressionStepMatchesPyTorch(String name, boolean checkpointing) {
        Path dir = model(name);
        AutogradBackend ag = new AutogradBackend(Backends.create("cpu"));
        ag.setGradientCheckpointing(checkpointing);
        try (WeightSource file = SafetensorsFile.open(dir.resolve("unet/diffusion_pytorch_model.safetensors"));
             WeightSource golden = SafetensorsFile.open(dir.resolve("train_golden.safetensors"))) {
            TrainableWeights weights = TrainableWeights.copyOf(file);
            weights.parameters().values().forEach(ag::requireGrad);
            UNet2DConditionModel unet = new UNet2DConditionModel(Params.root(weights, ag),
                    UNetConfig.fromJson(Json.parseObject(dir.resolve("unet/config.json"))));

            // The forward process and target from the model's own schedule reproduce the reference inputs.
            ForwardProcess fp = ForwardProcess.of(Json.parseObject(dir.resolve("scheduler/scheduler_config.json")));
            float[] ts = dense(golden, "train.timesteps").toFloatArray();
            int[] t = {(int) ts[0], (int) ts[1]};
            float[] x0 = dense(golden, "train.x0").toFloatArray(), noise = dense(golden, "train.noise").toFloatArray();
            assertTrue(relativeError(fp.addNoise(x0, noise, t), dense(golden, "train.noisy").toFloatArray()) < 1e-6, "add_noise");
            assertTrue(relativeError(fp.target(x0, noise, t), dense(golden, "train.target").toFloatArray()) < 1e-6, "target");

            Tensor noisy = ag.requireGrad(dense(golden, "train.noisy"));
            Tensor context = ag.requireGrad(dense(golden, "train.context"));
            Tensor pred = unet.forward(noisy, ts, context);
            assertTrue(relativeError(pred.toFloatArray(), dense(golden, "train.pred").toFloatArray()) < 1e-5, "prediction");
            if (checkpointing) {
                AutogradBackend plain = new AutogradBackend(Backends.create("cpu"));
                weights.parameters().values().forEach(plain::requireGrad);
                new UNet2DConditionModel(Params.root(weights, plain), UNetConfig.fromJson(Json.parseObject(dir.resolve("unet/config.json"))))
                        .forward(plain.requireGrad(dense(golden, "train.noisy")), ts, plain.requireGrad(dense(golden, "train.context")));
                assertTrue(ag.savedBytes() < plain.savedBytes() / 2, "checkpointing keeps " + ag.savedBytes() + " bytes, plain " + plain.savedBytes());
            }
            Tensor loss = Losses.mse(ag, pred, dense(golden, "train.target"));
            double want = dense(golden, "train.loss").toFloatArray()[0];
            assertEquals(want, loss.toFloatArray()[0], LOSS_TOLERANCE * Math.abs(want), "loss");

            AutogradBackend.Gradients grads = ag.backward(loss);
            Map<String, float[]> got = new java.util.TreeMap<>(), ref = new java.util.TreeMap<>();
            for (Map.Entry<String, Tensor> p : weights.parameters().entrySet()) {
                ref.put(p.getKey(), dense(golden, "train.grad.unet." + p.getKey()).toFloatArray());
                got.put(p.getKey(), grads.of(p.getValue()).toFloatArray());
            }
            assertEquals(weights.parameters().size(), ref.size());
            checkGradients(name + " U-Net", got, ref);
            assertTrue(relativeError(grads.of(context).toFloatArray(), dense(golden, "train.grad.context").toFloatArray()) <= GRAD_TOLERANCE, "context gradient");
            assertTrue(relativeError(grads.of(noisy).toFloatArray(), dense(golden, "train.grad.noisy").toFloatArray()) <= GRAD_TOLERANCE, "noisy-input gradient");
        }
    }

    @ParameterizedTest
    @CsvSource({"sd1-tiny,false", "sd2-tiny,false", "sd1-tiny,true", "sd2-tiny,true"})
    void vaeKlStepMatchesPyTorch(String name, boolean checkpointing) {
        Path dir = model(name);
        AutogradBackend ag = new AutogradBackend(Backends.create("cpu"));
        ag.setGradientCheckpointing(checkpointing);
        try (WeightSource file = SafetensorsFile.open(dir.resolve("vae/diffusion_pytorch_model.safetensors"));
             WeightSource golden = SafetensorsFile.open(dir.resolve("vae_train_golden.safetensors"))) {
            TrainableWeights weights = TrainableWeights.copyOf(file);
            weights.parameters().values().forEach(ag::requireGrad);
            AutoencoderKL vae = new AutoencoderKL(Params.root(weights, ag), VaeConfig.fromJson(Json.parseObject(dir.resolve("vae/config.json"))));

            Tensor image = dense(golden, "vae_train.image");
            VaeLoss.Result r = VaeLoss.compute(ag, vae, image, dense(golden, "vae_train.eps"), 1e-3f, VaeLoss.Reconstruction.MSE);
            assertTrue(relativeError(r.reconstruction().toFloatArray(), dense(golden, "vae_train.reconstruction").toFloatArray()) < 1e-5, "reconstruction");
            for (String part : new String[] {"rec_loss", "kl", "loss"}) {
                double want = dense(golden, "vae_train." + part).toFloatArray()[0];
                Tensor got = switch (part) {
                    case "rec_loss" -> r.rec();
                    case "kl" -> r.kl();
                    default -> r.loss();
                };
                assertEquals(want, got.toFloatArray()[0], LOSS_TOLERANCE * Math.abs(want), part);
            }
            AutogradBackend.Gradients grads = ag.backward(r.loss());
            Map<String, float[]> got = new java.util.TreeMap<>(), ref = new java.util.TreeMap<>();
            for (Map.Entry<String, Tensor> p : weights.parameters().entrySet()) {
                ref.put(p.getKey(), dense(golden, "vae_train.grad.vae." + p.getKey()).toFloatArray());
                got.put(p.getKey(), grads.of(p.getValue()).toFloatArray());
            }
            checkGradients(name + " VAE", got, ref);
        }
    }
}
