// What the two time-distillation objectives share: a frozen teacher U-Net (with classifier-free guidance when
// asked), a student U-Net trained on the autograd backend, the teacher's frozen text encoder and VAE (the student
// shares them), and the student's diffusers folder. The loss of each student estimate is written as a per-row
// affine map of the student's raw output m: estimate = a_b z_b + b_b m_b, so that
//   (1/B) sum_b w_b mean_i (a_b z + b_b m - y)^2  =  (1/B) sum_b (w_b b_b^2) mean_i (m - (y - a_b z) / b_b)^2,
// a weighted MSE on m itself (Losses.weightedMse), with no per-row scaling op on the tape.
package dev.ldm4j.train.distill;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.diffusion.clip.ClipTextConfig;
import dev.ldm4j.diffusion.clip.ClipTextTransformer;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.diffusion.unet.UNetConfig;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.LatentEncoder;
import dev.ldm4j.train.Losses;
import dev.ldm4j.train.TrainingLoop;
import dev.ldm4j.train.UNetTraining;
import dev.ldm4j.train.data.CaptionedImage;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public abstract class DistillationObjective implements TrainingLoop.Objective {
    protected final UNetTraining.Parts student;
    protected final Backend plain;
    protected final UNet2DConditionModel teacherUnet;
    protected final UNet2DConditionModel studentUnet;
    protected final LatentEncoder latents;
    private final ClipTextTransformer textEncoder;
    private final ClipTokenizer tokenizer;
    private final List<String> samplePrompts;
    private final Map<String, Tensor> trainable = new LinkedHashMap<>();

    /** teacher: the model distilled (its text encoder and VAE are the student's too); student: the folder trained. */
    protected DistillationObjective(UNetTraining.Parts teacher, UNetTraining.Parts student, ClipTokenizer tokenizer, AutogradBackend ag,
                                    List<String> samplePrompts) {
        this.student = student;
        this.plain = ag.inner();
        this.teacherUnet = new UNet2DConditionModel(Params.root(teacher.unet(), plain), UNetConfig.fromJson(teacher.unetConfig()));
        this.studentUnet = new UNet2DConditionModel(Params.root(student.unet(), ag), UNetConfig.fromJson(student.unetConfig()));
        this.textEncoder = new ClipTextTransformer(Params.root(teacher.textEncoder(), plain), ClipTextConfig.fromJson(teacher.textConfig()));
        this.latents = new LatentEncoder(teacher, plain);
        this.tokenizer = tokenizer;
        this.samplePrompts = List.copyOf(samplePrompts);
        student.unet().parameters().forEach((k, v) -> trainable.put("unet." + k, v));
    }

    /** The student U-Net's tensors, prefixed "unet." (the text encoder and VAE stay frozen). */
    public Map<String, Tensor> trainable() {
        return trainable;
    }

    /** The text encoder's last hidden state of the captions -> [B, 77, D]. */
    protected Tensor context(List<String> captions) {
        int[][] ids = new int[captions.size()][];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = tokenizer.encode(captions.get(i)).ids();
        }
        return textEncoder.forward(ids).lastHiddenState();
    }

    /** The batch's captions, in order. */
    protected static List<String> captions(List<CaptionedImage> batch) {
        return batch.stream().map(CaptionedImage::caption).toList();
    }

    /**
     * The teacher's output at (z [B, C, h, w], t per row) under classifier-free guidance with a scale per row:
     * m = m_u + g_b (m_c - m_u) (Ho & Salimans 2022), from one pass over [z; z] with [uncond; cond]; g == null
     * means one conditional pass. guided: the context [2B, 77, D] of ["" x B, captions].
     */
    protected float[] teacher(float[] z, int[] shape, int[] t, Tensor context, double[] g) {
        int b = shape[0];
        if (g == null) {
            return plain.toHost(teacherUnet.forward(Tensor.of(z, shape), floats(t), context)).toFloatArray();
        }
        float[] zz = new float[2 * z.length];
        System.arraycopy(z, 0, zz, 0, z.length);
        System.arraycopy(z, 0, zz, z.length, z.length);
        int[] ts = new int[2 * b];
        System.arraycopy(t, 0, ts, 0, b);
        System.arraycopy(t, 0, ts, b, b);
        int[] s2 = shape.clone();
        s2[0] = 2 * b;
        float[] m = plain.toHost(teacherUnet.forward(Tensor.of(zz, s2), floats(ts), context)).toFloatArray();
        float[] out = new float[z.length];
        int per = z.length / b;
        for (int r = 0; r < b; r++) {
            for (int i = r * per; i < (r + 1) * per; i++) {
                float u = m[i], c = m[z.length + i];
                out[i] = (float) (u + g[r] * (c - u));
            }
        }
        return out;
    }

    /** The context of a guided teacher call: ["" x B, captions] -> [2B, 77, D]. */
    protected Tensor guidedContext(List<String> captions) {
        List<String> both = new ArrayList<>(captions.size() * 2);
        captions.forEach(c -> both.add(""));
        both.addAll(captions);
        return context(both);
    }

    /**
     * (1/B) sum_b w_b mean_i (a_b z + b_b m - y)^2 for the student output m [B, ...] (on the autograd backend), the
     * fixed z and target y (host arrays of m's size) and per-row coefficients; see the header.
     */
    protected static Tensor affineMse(Backend ag, Tensor m, float[] z, NoiseLevels.Affine[] coef, float[] y, double[] w) {
        int b = coef.length;
        int per = y.length / b;
        float[] target = new float[y.length];
        float[] weights = new float[b];
        for (int r = 0; r < b; r++) {
            double a = coef[r].a(), s = coef[r].b();
            if (s == 0 || !Double.isFinite(s) || !Double.isFinite(a)) {
                throw new IllegalArgumentException("the student estimate a z + b m has a = " + a + ", b = " + s + " in row " + r);
            }
            for (int i = r * per; i < (r + 1) * per; i++) {
                target[i] = (float) ((y[i] - a * z[i]) / s);
            }
            weights[r] = (float) (w[r] * s * s);
        }
        return Losses.weightedMse(ag, m, ag.toDevice(Tensor.of(target, m.shape())), weights);
    }

    protected static float[] floats(int[] t) {
        float[] f = new float[t.length];
        for (int i = 0; i < t.length; i++) {
            f[i] = t[i];
        }
        return f;
    }

    @Override
    public void writeModel(Path out, long step) {
        UNetTraining.writeFolder(student, out, DType.F32);
    }

    @Override
    public void writePictures(Path out, long step) {
        UNetTraining.writeSamples(out, samplePrompts, plain);
    }
}
