// The initial weights of a model trained from scratch. The model classes themselves say which tensors exist:
// a model is built once over an initializing Params scope, which makes each tensor as it is asked for, in
// constructor order, from one seeded stream. The values follow PyTorch's default initializations, so a new
// ldm4j model starts where a new diffusers model would (in distribution, not bit for bit):
// - Linear and Conv2d weights: kaiming_uniform(a = sqrt 5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and their
//   biases from the same range (torch.nn.Linear.reset_parameters);
// - GroupNorm / LayerNorm: weight 1, bias 0;
// - CLIP's token and position embeddings: N(0, 0.02^2) and N(0, 0.01^2) (transformers' CLIPTextEmbeddings init
//   with initializer_factor 1).
package dev.ldm4j.train;

import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.clip.ClipTextTransformer;
import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.Tensor;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

public final class ModelInit {
    private ModelInit() {
    }

    public static TrainableWeights unet(UNetConfig config, long seed) {
        Params p = Params.initializing(Backends.create("cpu"), pytorchDefaults(seed));
        new UNet2DConditionModel(p, config);
        return TrainableWeights.of("new unet", p.created());
    }

    public static TrainableWeights vae(VaeConfig config, long seed) {
        Params p = Params.initializing(Backends.create("cpu"), pytorchDefaults(seed));
        new AutoencoderKL(p, config);
        return TrainableWeights.of("new vae", p.created());
    }

    /** A CLIP text model in transformers' layout (text_model.* keys, as SD folders hold it). */
    public static TrainableWeights textEncoder(ClipTextConfig config, long seed) {
        Params p = Params.initializing(Backends.create("cpu"), pytorchDefaults(seed));
        new ClipTextTransformer(p, config);
        return TrainableWeights.of("new text encoder", p.created());
    }

    /** PyTorch's default initialization of each tensor, from its key and shape, drawn from one seeded stream. */
    public static Params.Initializer pytorchDefaults(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, Integer> fanIn = new HashMap<>();
        return (key, shape) -> {
            int dot = key.lastIndexOf('.');
            String module = dot < 0 ? "" : key.substring(0, dot);
            String leaf = key.substring(dot + 1);
            float[] v = new float[Math.toIntExact(Tensor.numel(shape))];
            if (module.endsWith("token_embedding") || module.endsWith("position_embedding")) {
                double std = module.endsWith("token_embedding") ? 0.02 : 0.01;
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (std * gaussian(random));
                }
            } else if (leaf.equals("weight") && shape.length >= 2) {
                int fan = Math.toIntExact(v.length / shape[0]);
                fanIn.put(module, fan);
                uniform(random, v, 1 / Math.sqrt(fan));
            } else if (leaf.equals("bias") && fanIn.containsKey(module)) {
                uniform(random, v, 1 / Math.sqrt(fanIn.get(module)));
            } else if (leaf.equals("weight")) {
                java.util.Arrays.fill(v, 1f);
            }
            return Tensor.of(v, shape);
        };
    }

    private static void uniform(SplittableRandom random, float[] v, double bound) {
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((2 * random.nextDouble() - 1) * bound);
        }
    }

    /** A standard normal draw (Box-Muller, one value per call). */
    private static double gaussian(SplittableRandom random) {
        double u1 = 1 - random.nextDouble(), u2 = random.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
