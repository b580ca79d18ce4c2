// The training losses, each a few lines over differentiable ops, with its formula.
package dev.ldm4j.train;

import dev.ldm4j.autograd.AutogradBackend;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;

public final class Losses {
    private Losses() {
    }

    /** Mean squared error over all elements: (1/n) sum (pred - target)^2 -> [1]. */
    public static Tensor mse(Backend b, Tensor pred, Tensor target) {
        Tensor d = b.sub(pred, target);
        return b.scale(total(b, b.mul(d, d)), 1f / d.numel());
    }

    /** Mean absolute error over all elements: (1/n) sum |pred - target| -> [1], via |d| = d * sign(d) (sign held fixed). */
    public static Tensor l1(AutogradBackend b, Tensor pred, Tensor target) {
        Tensor d = b.sub(pred, target);
        float[] v = b.inner().toHost(d).data();
        float[] sign = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            sign[i] = Math.signum(v[i]);
        }
        return b.scale(total(b, b.mul(d, b.inner().toDevice(Tensor.of(sign, d.shape())))), 1f / d.numel());
    }

    /**
     * Noise regression with per-sample weights w_b (min-SNR-gamma, Hang et al. 2023): (1/B) sum_b w_b mean_i (pred - target)^2
     * over each sample's elements -> [1]. With every w_b = 1 this is mse().
     */
    public static Tensor weightedMse(Backend b, Tensor pred, Tensor target, float[] weights) {
        int batch = pred.dim(0);
        Tensor d = b.sub(pred, target);
        Tensor perSample = b.sum(b.mul(d, d).reshape(batch, Math.toIntExact(d.numel() / batch)), 1);     // [B, 1]
        Tensor w = b.toDevice(Tensor.of(weights.clone(), batch, 1));
        return b.scale(total(b, b.mul(perSample, w)), 1f / d.numel());     // (1/B) sum_b w_b (S_b / P), B P = numel
    }

    /**
     * KL(q(z|x) || N(0, I)) of the diagonal Gaussian posterior, as diffusers' DiagonalGaussianDistribution.kl():
     * 0.5 sum_{c,h,w} (mu^2 + sigma^2 - 1 - log sigma^2) per sample (Kingma & Welling 2014, appendix B), then the
     * mean over the batch -> [1].
     */
    public static Tensor kl(AutogradBackend b, Tensor mean, Tensor logvar) {
        int batch = mean.dim(0);
        long perSample = mean.numel() / batch;
        Tensor s = total(b, b.sub(b.add(b.mul(mean, mean), b.exp(logvar)), logvar));   // sum (mu^2 + var - logvar)
        Tensor minusOnes = b.toDevice(Tensor.of(new float[] {-(float) perSample * batch}, 1));
        return b.scale(b.add(s, minusOnes), 0.5f / batch);
    }

    /** The sum of every element of t -> [1]. */
    public static Tensor total(Backend b, Tensor t) {
        Tensor flat = t.isContiguous() ? t.reshape(1, Math.toIntExact(t.numel())) : b.contiguous(t).reshape(1, Math.toIntExact(t.numel()));
        return b.sum(flat, 1).reshape(1);
    }
}
