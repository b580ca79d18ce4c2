// `./ldm4j train vae`: the first stage of latent diffusion. An AutoencoderKL (new, from its config, or loaded
// from a model folder to fine-tune) learns to reconstruct the dataset's images through a KL-regularised latent
// (VaeLoss). The output folder holds vae/ (config + weights, with scaling_factor measured on the data as the
// LDM paper does: 1 / the standard deviation of the latents), the resumable checkpoint, the log, the loss
// curve and a grid of reconstructions (top row originals, bottom row reconstructions).
package dev.ldm4j.train;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.diffusion.vae.DiagonalGaussianDistribution;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.data.CaptionedImage;
import dev.ldm4j.train.data.CaptionedImageDataset;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

public final class VaeTraining implements TrainingLoop.Objective {
    private final Map<String, Object> config;
    private final VaeConfig vaeConfig;
    private final TrainableWeights weights;
    private final AutoencoderKL vae;
    private final Backend plain;
    private final float klWeight;
    private final VaeLoss.Reconstruction rec;
    private final CaptionedImageDataset data;
    private final long seed;
    private boolean decoderOnly;

    /**
     * config: the vae/config.json keys; weights: new (ModelInit.vae) or loaded ones; ag wraps plain.
     */
    public VaeTraining(Map<String, Object> config, TrainableWeights weights, AutogradBackend ag, float klWeight,
                       VaeLoss.Reconstruction rec, CaptionedImageDataset data, long seed) {
        this.config = new LinkedHashMap<>(config);
        this.vaeConfig = VaeConfig.fromJson(config);
        this.weights = weights;
        this.vae = new AutoencoderKL(Params.root(weights, ag), vaeConfig);
        this.plain = ag.inner();
        this.klWeight = klWeight;
        this.rec = rec;
        this.data = data;
        this.seed = seed;
    }

    public TrainableWeights weights() {
        return weights;
    }

    /**
     * The tensors to train: all of them, or only the decoder's (decoder.*, post_quant_conv.*), which leaves the
     * encoder, and so the latent space a U-Net was trained in, unchanged (as Stable Diffusion's fine-tuned
     * "ft-MSE" decoders were made). With the encoder frozen its ops are not recorded and the KL term is a constant.
     */
    public Map<String, Tensor> trainable(boolean decoderOnly) {
        this.decoderOnly = decoderOnly;
        Map<String, Tensor> m = new LinkedHashMap<>();
        weights.parameters().forEach((k, v) -> {
            if (!decoderOnly || k.startsWith("decoder.") || k.startsWith("post_quant_conv.")) {
                m.put(k, v);
            }
        });
        return m;
    }

    @Override
    public TrainingLoop.StepLoss loss(AutogradBackend ag, List<CaptionedImage> batch, TorchGenerator gen, SplittableRandom random) {
        Tensor images = stack(batch);                                           // [B, 3, R, R]
        int f = vaeConfig.downFactor();
        int r = batch.get(0).height();
        Tensor eps = Tensor.of(gen.randn(batch.size(), vaeConfig.latentChannels(), r / f, r / f), batch.size(), vaeConfig.latentChannels(), r / f, r / f);
        VaeLoss.Result res = VaeLoss.compute(ag, vae, images, eps, klWeight, rec);
        Map<String, Double> terms = new LinkedHashMap<>();
        terms.put("rec", (double) res.rec().toFloatArray()[0]);
        terms.put("kl", (double) res.kl().toFloatArray()[0]);
        return new TrainingLoop.StepLoss(res.loss(), terms);
    }

    static Tensor stack(List<CaptionedImage> batch) {
        CaptionedImage first = batch.get(0);
        int per = first.chw().length;
        float[] a = new float[per * batch.size()];
        for (int i = 0; i < batch.size(); i++) {
            System.arraycopy(batch.get(i).chw(), 0, a, i * per, per);
        }
        return Tensor.of(a, batch.size(), 3, first.height(), first.width());
    }

    /**
     * vae/ with scaling_factor = 1 / std of the posterior means over 256 fresh samples; a decoder-only run keeps the
     * factor it was given, since its encoder (and the latent space a U-Net learned with that factor) is unchanged.
     */
    @Override
    public void writeModel(Path out, long step) {
        Map<String, Object> c = new LinkedHashMap<>(config);
        if (!decoderOnly) {
            c.put("scaling_factor", measureScalingFactor());
        }
        DiffusersFolder.writeComponent(out.resolve("vae"), "AutoencoderKL", c, weights.parameters(), DType.F32);
    }

    /** The LDM paper's rescaling (Rombach et al. 2022, sec. G): 1 / the standard deviation of the latents. */
    double measureScalingFactor() {
        AutoencoderKL eval = new AutoencoderKL(Params.root(weights, plain), vaeConfig);
        double sum = 0, sumSq = 0;
        long n = 0;
        for (int start = 0; start < 256; start += 32) {
            List<CaptionedImage> batch = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                batch.add(data.get(heldOutIndex(start + i)));
            }
            for (float v : eval.encode(stack(batch)).mean().toFloatArray()) {
                sum += v;
                sumSq += (double) v * v;
                n++;
            }
        }
        double mean = sum / n;
        double std = Math.sqrt(Math.max(sumSq / n - mean * mean, 1e-12));
        return 1.0 / std;
    }

    /** Samples the training steps do not reach first (from the far end of a generator, or the start of a folder). */
    private long heldOutIndex(int i) {
        return data.size() == Long.MAX_VALUE ? (1L << 40) + i : i % data.size();
    }

    /** reconstructions.png: eight images (top) and their reconstructions from the posterior mean (bottom). */
    @Override
    public void writePictures(Path out, long step) {
        AutoencoderKL eval = new AutoencoderKL(Params.root(weights, plain), vaeConfig);
        List<CaptionedImage> batch = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            batch.add(data.get(heldOutIndex(i)));
        }
        Tensor images = stack(batch);
        DiagonalGaussianDistribution q = eval.encode(images);
        float[] recon = eval.decode(q.mean()).toFloatArray();
        float[] orig = images.toFloatArray();
        int r = batch.get(0).height(), w = batch.get(0).width(), per = 3 * r * w;
        List<BufferedImage> tiles = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            tiles.add(Images.fromChw(orig, i * per, r, w));
        }
        for (int i = 0; i < 8; i++) {
            tiles.add(Images.fromChw(recon, i * per, r, w));
        }
        Images.writePng(Images.grid(tiles, 8), out.resolve("reconstructions.png"));
    }
}
