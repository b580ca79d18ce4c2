// `./ldm4j train unet`: the second stage of latent diffusion (Rombach et al. 2022, eq. 2). Images are encoded by
// a frozen VAE (a posterior sample times its scaling_factor), noised by the forward process of the model's own
// schedule at uniformly drawn timesteps, and the U-Net, conditioned on the text encoder's last hidden state,
// regresses the target of its parameterization (epsilon, v or x0) with a mean squared error, optionally weighted
// by min-SNR-gamma (Hang et al. 2023). Captions are replaced by "" with probability p so the same network learns
// the unconditional branch classifier-free guidance needs (Ho & Salimans 2022). Offset noise (a per-channel
// constant added to the noise) is optional. The text encoder trains jointly or stays frozen.
package dev.ldm4j.train;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.clip.ClipTextTransformer;
import dev.ldm4j.diffusion.model.GenerationDefaults;
import dev.ldm4j.diffusion.pipeline.GenerationRequest;
import dev.ldm4j.diffusion.pipeline.RgbImage;
import dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.ForwardProcess;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.data.CaptionedImage;
import dev.ldm4j.train.text.BpeTrainer;
import dev.ldm4j.train.data.Rgb8Image;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

public final class UNetTraining implements TrainingLoop.Objective {
    /** How the U-Net learns: the options of the loss and which timesteps it is drawn at. */
    public record Recipe(double captionDropout, double minSnrGamma, double offsetNoise, boolean trainTextEncoder, TimestepBias timestepBias) {
        /** Uniform timesteps. */
        public Recipe(double captionDropout, double minSnrGamma, double offsetNoise, boolean trainTextEncoder) {
            this(captionDropout, minSnrGamma, offsetNoise, trainTextEncoder, TimestepBias.NONE);
        }
    }

    /** The parts of the model: configs (diffusers keys) and weights; the VAE's are only read. */
    public record Parts(Map<String, Object> unetConfig, TrainableWeights unet,
                        Map<String, Object> textConfig, TrainableWeights textEncoder,
                        Map<String, Object> vaeConfig, TrainableWeights vae,
                        Map<String, Object> schedulerConfig, String schedulerClass, BpeTrainer.Vocabulary vocabulary,
                        Map<String, Object> defaults) {
    }

    private final Parts parts;
    private final Recipe recipe;
    private final TimestepBias.Sampler timesteps;
    private final ClipTokenizer tokenizer;
    private final UNet2DConditionModel unet;
    private final ClipTextTransformer textEncoder;
    private final LatentEncoder latentEncoder;
    private final ForwardProcess forward;
    private final Map<String, Tensor> trainable = new LinkedHashMap<>();
    private final Backend plain;
    private final List<String> samplePrompts;

    public UNetTraining(Parts parts, Recipe recipe, ClipTokenizer tokenizer, AutogradBackend ag, List<String> samplePrompts) {
        this.parts = parts;
        this.recipe = recipe;
        this.tokenizer = tokenizer;
        this.plain = ag.inner();
        this.unet = new UNet2DConditionModel(Params.root(parts.unet(), ag), UNetConfig.fromJson(parts.unetConfig()));
        this.textEncoder = new ClipTextTransformer(Params.root(parts.textEncoder(), recipe.trainTextEncoder() ? ag : plain),
                ClipTextConfig.fromJson(parts.textConfig()));
        this.latentEncoder = new LatentEncoder(parts, plain);
        this.forward = ForwardProcess.of(parts.schedulerConfig());
        this.timesteps = recipe.timestepBias().sampler(forward.numTrainTimesteps());
        parts.unet().parameters().forEach((k, v) -> trainable.put("unet." + k, v));
        if (recipe.trainTextEncoder()) {
            parts.textEncoder().parameters().forEach((k, v) -> trainable.put("text_encoder." + k, v));
        }
        this.samplePrompts = List.copyOf(samplePrompts);
    }

    /** Every trained tensor, prefixed by its component (unet., text_encoder.). */
    public Map<String, Tensor> trainable() {
        return trainable;
    }

    @Override
    public TrainingLoop.StepLoss loss(AutogradBackend ag, List<CaptionedImage> batch, TorchGenerator gen, SplittableRandom random) {
        int b = batch.size();
        // Latents: z = (mu + sigma eps) * scaling_factor from the frozen VAE.
        Tensor z = latentEncoder.encode(batch, gen);                                           // [B, C, h, w]
        int[] ls = z.shape();
        float[] latents = z.toFloatArray();
        // Forward process at uniform (or biased) timesteps.
        float[] noise = gen.randn(ls);
        if (recipe.offsetNoise() > 0) {
            float[] offset = gen.randn(b, ls[1]);
            int plane = ls[2] * ls[3];
            for (int i = 0; i < noise.length; i++) {
                noise[i] += (float) recipe.offsetNoise() * offset[i / plane];
            }
        }
        int[] t = new int[b];
        float[] tf = new float[b];
        for (int i = 0; i < b; i++) {
            t[i] = timesteps.draw(random);
            tf[i] = t[i];
        }
        Tensor noisy = Tensor.of(forward.addNoise(latents, noise, t), ls);
        Tensor target = Tensor.of(forward.target(latents, noise, t), ls);
        // Text: captions dropped to "" with probability p.
        int[][] ids = new int[b][];
        for (int i = 0; i < b; i++) {
            String caption = random.nextDouble() < recipe.captionDropout() ? "" : batch.get(i).caption();
            ids[i] = tokenizer.encode(caption).ids();
        }
        Tensor context = textEncoder.forward(ids).lastHiddenState();                   // [B, 77, D]
        Tensor pred = unet.forward(noisy, tf, context);                                   // [B, C, h, w]
        Tensor loss;
        if (recipe.minSnrGamma() > 0) {
            float[] w = new float[b];
            for (int i = 0; i < b; i++) {
                double snr = forward.snr(t[i]);
                double clipped = Math.min(snr, recipe.minSnrGamma());
                w[i] = (float) switch (forward.predictionType()) {
                    case "epsilon" -> clipped / snr;
                    case "v_prediction" -> clipped / (snr + 1);
                    default -> clipped;
                };
            }
            loss = Losses.weightedMse(ag, pred, target, w);
        } else {
            loss = Losses.mse(ag, pred, target);
        }
        return new TrainingLoop.StepLoss(loss, Map.of());
    }

    /** The whole diffusers folder: model_index, unet, text_encoder, tokenizer, scheduler, vae, and ldm4j's defaults. */
    @Override
    public void writeModel(Path out, long step) {
        writeFolder(out, DType.F32);
    }

    /** The folder with weights in dtype (F16 for a shipped model). */
    public void writeFolder(Path out, DType dtype) {
        writeFolder(parts, out, dtype);
    }

    /** The whole diffusers folder of parts, with weights in dtype. */
    public static void writeFolder(Parts parts, Path out, DType dtype) {
        DiffusersFolder.writeModelIndex(out, parts.schedulerClass());
        DiffusersFolder.writeComponent(out.resolve("unet"), "UNet2DConditionModel", parts.unetConfig(), parts.unet().parameters(), dtype);
        DiffusersFolder.writeTextEncoder(out.resolve("text_encoder"), parts.textConfig(), parts.textEncoder().parameters(), dtype);
        DiffusersFolder.writeComponent(out.resolve("vae"), "AutoencoderKL", parts.vaeConfig(), parts.vae().parameters(), dtype);
        DiffusersFolder.writeScheduler(out.resolve("scheduler"), parts.schedulerClass(), parts.schedulerConfig());
        parts.vocabulary().writeTo(out.resolve("tokenizer"));
        if (parts.defaults() != null) {
            DiffusersFolder.writeJson(out.resolve(GenerationDefaults.NAME), parts.defaults());
        }
    }

    /** samples.png: one image per sample prompt from the folder just written, at the folder's own defaults. */
    @Override
    public void writePictures(Path out, long step) {
        writeSamples(out, samplePrompts, plain);
    }

    /** out/samples.png: one image per prompt (seeds 1, 2, ...) from the model folder out, at its own defaults; nothing for no prompts. */
    public static void writeSamples(Path out, List<String> samplePrompts, Backend plain) {
        if (samplePrompts.isEmpty()) {
            return;
        }
        List<BufferedImage> tiles = new ArrayList<>();
        Map<String, Object> defaults = GenerationDefaults.of(out);
        boolean lcm = dev.ldm4j.diffusion.model.ModelDiscovery.hasGuidanceEmbedding(out);
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(out, null, null, plain)) {
            int steps = GenerationDefaults.steps(defaults, null, lcm);
            double guidance = GenerationDefaults.guidance(defaults, null, lcm);
            for (int i = 0; i < samplePrompts.size(); i++) {
                GenerationRequest req = GenerationRequest.textToImage(samplePrompts.get(i)).withSteps(steps)
                        .withGuidanceScale(guidance).withSeed(i + 1);
                RgbImage img = pipe.generate(req, (s, n, t, l, ns) -> { }).images().get(0);
                Rgb8Image rgb = Rgb8Image.of(img);
                tiles.add(Images.fromChw(rgb.toChw(), 0, rgb.height(), rgb.width()));
            }
        }
        Images.writePng(Images.grid(tiles, Math.min(8, tiles.size())), out.resolve("samples.png"));
    }
}
