// Latent consistency distillation (Luo et al. 2023, "Latent Consistency Models", Algorithm 1, LCD), with the
// skipping-step schedule (sec. 4.3) and the guidance scale as a condition of the student (sec. 4.2):
//   solver timesteps  tau_j = (j + 1) K - 1, j = 0 .. T/K - 1 (T/K points K apart: 19, 39, .. 999 for K = 20)
//   per row:          j ~ U{0 .. T/K - 1}, s = tau_j (t_{n+k}), t = max(s - K, 0) (t_n), w ~ U[w_min, w_max]
//   z_s   = alpha_s x + sigma_s eps
//   teacher with guidance w, as the paper writes it (cond + w (cond - uncond), i.e. a classifier-free guidance
//   scale of 1 + w):  m = m_c + w (m_c - m_u); x0, eps from m (NoiseLevels)
//   z^_t  = alpha_t x0 + sigma_t eps                      (one DDIM step, the ODE solver Psi)
//   f(z, t, w) = c_skip(t) z + c_out(t) x0_pred(z, t, w)  (LCMScheduler.cSkip / cOut, timestep_scaling 10,
//                                                          sigma_data 0.5: f(z, 0) = z, the boundary condition)
//   L = mean || f_theta(z_s, s, w) - f_theta-(z^_t, t, w) ||^2      (the L2 distance; no pseudo-Huber)
// The target network theta- is the training loop's EMA of the student (TrainingLoop.emaConfig(targetEma(mu))):
// theta- <- mu theta- + (1 - mu) theta after each optimizer step, and it is what the model folder receives.
// The student U-Net has time_cond_proj_dim: w enters as GuidanceScaleEmbedding.of(w) through
// time_embedding.cond_proj, exactly as diffusers' LatentConsistencyModelPipeline feeds it (w = guidance - 1),
// so the student needs no unconditional pass.
package dev.ldm4j.train.distill;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.pipeline.GuidanceScaleEmbedding;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.schedulers.LCMScheduler;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.TrainableWeights;
import dev.ldm4j.train.TrainingLoop;
import dev.ldm4j.train.UNetTraining;
import dev.ldm4j.train.data.CaptionedImage;
import dev.ldm4j.train.optim.EmaModel;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

public final class ConsistencyDistillation extends DistillationObjective {
    /** LCM's timestep_scaling of the boundary scalings (diffusers' timestep_scaling_factor default). */
    public static final double TIMESTEP_SCALING = 10.0;

    private final NoiseLevels levels;
    private final int skip;
    private final double wMin;
    private final double wMax;
    private final int embeddingDim;
    private UNet2DConditionModel target;

    /** skip: K; [wMin, wMax]: the range of w (LCM's convention: guidance scale 1 + w). */
    public ConsistencyDistillation(UNetTraining.Parts teacher, UNetTraining.Parts student, int skip, double wMin, double wMax,
                                   ClipTokenizer tokenizer, AutogradBackend ag, List<String> samplePrompts) {
        super(teacher, student, tokenizer, ag, samplePrompts);
        this.levels = NoiseLevels.of(teacher.schedulerConfig());
        int t = levels.numTrainTimesteps();
        if (skip < 2 || t % skip != 0) {
            throw new IllegalArgumentException("the skip K = " + skip + " must be at least 2 and divide the " + t + " training timesteps");
        }
        this.skip = skip;
        this.wMin = wMin;
        this.wMax = wMax;
        Integer dim = UNetConfig.fromJson(student.unetConfig()).timeCondProjDim();
        if (dim == null) {
            throw new IllegalArgumentException("the student U-Net has no time_cond_proj_dim (guidance embedding)");
        }
        this.embeddingDim = dim;
        if (!Double.isFinite(levels.x0(t - 1).a())) {
            throw new IllegalArgumentException("x0 is undefined at t = " + (t - 1) + " (epsilon prediction at zero SNR): use a v-prediction teacher");
        }
    }

    /** The target network's EMA: theta- <- mu theta- + (1 - mu) theta at every step after the first (the first copies theta, as EMAModel). */
    public static EmaModel.Config targetEma(double mu) {
        return new EmaModel.Config(mu, mu, 0, false, 1.0, 2.0 / 3.0);
    }

    /** The target network: the student's architecture over the EMA's live shadow arrays (no copy, no gradients). */
    @Override
    public void beginRun(EmaModel ema) {
        if (ema == null) {
            throw new IllegalStateException("consistency distillation needs the loop's EMA as its target network");
        }
        Map<String, Tensor> shadow = new LinkedHashMap<>();
        student.unet().parameters().forEach((k, v) -> shadow.put(k, Tensor.of(ema.shadow("unet." + k), v.shape())));
        this.target = new UNet2DConditionModel(Params.root(TrainableWeights.view("EMA target network", shadow), plain),
                UNetConfig.fromJson(student.unetConfig()));
    }

    /** The consistency function's skip and output scalings at timestep t: {c_skip(t), c_out(t)}. */
    public static double[] boundaryScalings(int t) {
        return new double[] {LCMScheduler.cSkip(t, TIMESTEP_SCALING), LCMScheduler.cOut(t, TIMESTEP_SCALING)};
    }

    @Override
    public TrainingLoop.StepLoss loss(AutogradBackend ag, List<CaptionedImage> batch, TorchGenerator gen, SplittableRandom random) {
        if (target == null) {
            throw new IllegalStateException("beginRun has not given the target network");
        }
        int b = batch.size();
        Tensor x = latents.encode(batch, gen);                                             // [B, C, h, w]
        int[] shape = x.shape();
        float[] eps = gen.randn(shape);
        int points = levels.numTrainTimesteps() / skip;
        int[] s = new int[b], t = new int[b];
        double[] w = new double[b];
        for (int r = 0; r < b; r++) {
            s[r] = (random.nextInt(points) + 1) * skip - 1;
            t[r] = Math.max(s[r] - skip, 0);
            w[r] = wMin + (wMax - wMin) * random.nextDouble();
        }
        float[] z = levels.forward().addNoise(x.toFloatArray(), eps, s);                   // z_{t_{n+k}}
        List<String> captions = captions(batch);
        Tensor cond = context(captions);                                                   // [B, 77, D]
        double[] g = new double[b];
        for (int r = 0; r < b; r++) {
            g[r] = 1 + w[r];                                                               // cond + w (cond - uncond)
        }
        float[] zHat = levels.ddimStep(z, teacher(z, shape, s, guidedContext(captions), g), s, t);
        Tensor embedding = GuidanceScaleEmbedding.of(w, embeddingDim);                     // [B, time_cond_proj_dim]
        float[] mTarget = plain.toHost(target.forward(Tensor.of(zHat, shape), floats(t), cond, embedding)).toFloatArray();
        float[] fTarget = new float[z.length];
        NoiseLevels.Affine[] coef = new NoiseLevels.Affine[b];
        int per = z.length / b;
        for (int r = 0; r < b; r++) {
            double[] ct = boundaryScalings(t[r]);
            NoiseLevels.Affine xt = levels.x0(t[r]);
            for (int i = r * per; i < (r + 1) * per; i++) {
                fTarget[i] = (float) (ct[0] * zHat[i] + ct[1] * (xt.a() * zHat[i] + xt.b() * mTarget[i]));
            }
            double[] cs = boundaryScalings(s[r]);
            NoiseLevels.Affine xs = levels.x0(s[r]);
            coef[r] = new NoiseLevels.Affine(cs[0] + cs[1] * xs.a(), cs[1] * xs.b());  // f_theta = c_skip z + c_out (a z + b m)
        }
        Tensor m = studentUnet.forward(ag.toDevice(Tensor.of(z, shape)), floats(s), cond, ag.toDevice(embedding));
        double[] ones = new double[b];
        Arrays.fill(ones, 1);
        Tensor loss = affineMse(ag, m, z, coef, fTarget, ones);
        return new TrainingLoop.StepLoss(loss, Map.of());
    }
}
