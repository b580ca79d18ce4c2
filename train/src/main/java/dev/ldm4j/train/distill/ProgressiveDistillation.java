// One round of progressive distillation (Salimans & Ho 2022, "Progressive Distillation for Fast Sampling of
// Diffusion Models", Algorithm 2): a student learns to take in one DDIM step what the teacher takes in two, so
// that a sampler of 2N steps becomes one of N. For a training latent x, noise eps and a student step i of the
// N-step grid (t = t_i, t'' = t_{i+1}, t' the teacher's grid point between them; NoiseLevels.trailingGrid):
//   z_t   = alpha_t x + sigma_t eps
//   z_t'  = alpha_t' x0_T(z_t, t) + (sigma_t' / sigma_t) (z_t - alpha_t x0_T(z_t, t))        (teacher DDIM step)
//   z_t'' = alpha_t'' x0_T(z_t', t') + (sigma_t'' / sigma_t') (z_t' - alpha_t' x0_T(z_t', t')) (teacher DDIM step)
//   x~    = (z_t'' - (sigma_t'' / sigma_t) z_t) / (alpha_t'' - (sigma_t'' / sigma_t) alpha_t)
// x~ is the clean-sample estimate for which one student DDIM step from z_t lands exactly on z_t''. The loss is
// the paper's "truncated SNR" weighting, max(SNR_t, 1) ||x0_S(z_t, t) - x~||^2 (sec. 4: the max of the x and eps
// losses), with x0_S read from the student's own parameterisation (for v: alpha_t z_t - sigma_t v).
//
// Guidance follows Meng et al. 2023 ("On Distillation of Guided Diffusion Models") with one fixed scale: the first
// round's teacher is the original model under classifier-free guidance at scale g (two passes, uncond + g (cond -
// uncond)); the student is conditional only and learns the guided sampler, so later rounds (guidance null) and the
// final model run without an unconditional pass. The student is the previous round's student (the first: a copy of
// the teacher, or a new network of another architecture).
package dev.ldm4j.train.distill;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.TrainingLoop;
import dev.ldm4j.train.UNetTraining;
import dev.ldm4j.train.data.CaptionedImage;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

public final class ProgressiveDistillation extends DistillationObjective {
    private final NoiseLevels teacherLevels;
    private final NoiseLevels studentLevels;
    private final int[] grid;
    private final int[] fine;
    private final Double guidance;

    /**
     * studentSteps: N, the student's step count this round (the teacher takes 2N); guidance: the teacher's
     * classifier-free guidance scale, or null for a teacher that is already guided (a previous round's student).
     */
    public ProgressiveDistillation(UNetTraining.Parts teacher, UNetTraining.Parts student, int studentSteps, Double guidance,
                                   ClipTokenizer tokenizer, AutogradBackend ag, List<String> samplePrompts) {
        super(teacher, student, tokenizer, ag, samplePrompts);
        this.teacherLevels = NoiseLevels.of(teacher.schedulerConfig());
        this.studentLevels = NoiseLevels.of(student.schedulerConfig());
        this.grid = studentLevels.trailingGrid(studentSteps);
        this.fine = teacherLevels.trailingGrid(2 * studentSteps);
        this.guidance = guidance;
        for (int i = 0; i < studentSteps; i++) {
            if (studentLevels.alphaBar(grid[i]) != teacherLevels.alphaBar(grid[i])) {
                throw new IllegalArgumentException("the student's noise schedule differs from the teacher's at t = " + grid[i]);
            }
            if (!Double.isFinite(studentLevels.x0(grid[i]).a()) || !Double.isFinite(teacherLevels.x0(fine[2 * i + 1]).a())) {
                throw new IllegalArgumentException("x0 is undefined at t = " + grid[i] + " (epsilon prediction at zero SNR): use a v-prediction teacher");
            }
        }
    }

    /**
     * Salimans & Ho's Algorithm 2 target x~ = (z'' - (sigma''/sigma) z) / (alpha'' - (sigma''/sigma) alpha) per row:
     * z at (alpha[b], sigma[b]), z'' at (alpha2[b], sigma2[b]).
     */
    public static float[] target(float[] z, float[] z2, double[] alpha, double[] sigma, double[] alpha2, double[] sigma2) {
        int per = z.length / alpha.length;
        float[] out = new float[z.length];
        for (int b = 0; b < alpha.length; b++) {
            double r = sigma2[b] / sigma[b];
            double den = alpha2[b] - r * alpha[b];
            for (int i = b * per; i < (b + 1) * per; i++) {
                out[i] = (float) ((z2[i] - r * z[i]) / den);
            }
        }
        return out;
    }

    @Override
    public TrainingLoop.StepLoss loss(AutogradBackend ag, List<CaptionedImage> batch, TorchGenerator gen, SplittableRandom random) {
        int b = batch.size();
        Tensor x = latents.encode(batch, gen);                                             // [B, C, h, w]
        int[] shape = x.shape();
        float[] eps = gen.randn(shape);
        int[] t = new int[b], t1 = new int[b], t2 = new int[b];
        for (int r = 0; r < b; r++) {
            int i = random.nextInt(grid.length - 1);
            t[r] = grid[i];
            t1[r] = fine[2 * i + 1];
            t2[r] = grid[i + 1];
        }
        float[] z = teacherLevels.forward().addNoise(x.toFloatArray(), eps, t);            // z_t
        List<String> captions = captions(batch);
        Tensor cond = context(captions);                                                   // [B, 77, D]
        Tensor teacherContext = guidance == null ? cond : guidedContext(captions);
        double[] g = null;
        if (guidance != null) {
            g = new double[b];
            Arrays.fill(g, guidance);
        }
        float[] z1 = teacherLevels.ddimStep(z, teacher(z, shape, t, teacherContext, g), t, t1);      // z_t'
        float[] z2 = teacherLevels.ddimStep(z1, teacher(z1, shape, t1, teacherContext, g), t1, t2);  // z_t''
        double[] alpha = new double[b], sigma = new double[b], alpha2 = new double[b], sigma2 = new double[b], w = new double[b];
        NoiseLevels.Affine[] x0 = new NoiseLevels.Affine[b];
        for (int r = 0; r < b; r++) {
            alpha[r] = studentLevels.alpha(t[r]);
            sigma[r] = studentLevels.sigma(t[r]);
            alpha2[r] = studentLevels.alpha(t2[r]);
            sigma2[r] = studentLevels.sigma(t2[r]);
            w[r] = Math.max(studentLevels.snr(t[r]), 1);                                   // truncated SNR weighting
            x0[r] = studentLevels.x0(t[r]);
        }
        float[] xTilde = target(z, z2, alpha, sigma, alpha2, sigma2);
        Tensor m = studentUnet.forward(ag.toDevice(Tensor.of(z, shape)), floats(t), cond);  // [B, C, h, w]
        Tensor loss = affineMse(ag, m, z, x0, xTilde, w);
        return new TrainingLoop.StepLoss(loss, Map.of());
    }
}
