// torch.nn.utils.clip_grad_norm_(params, max_norm) with norm type 2: scale every gradient by one
// factor so that their joint L2 norm is at most max_norm.
//   total     = sqrt(sum over parameters of ||g_p||^2)    (torch: the norm of the per-tensor norms)
//   clip_coef = max_norm / (total + 1e-6)
//   g        *= min(clip_coef, 1)                        (applied even when it is 1, as torch does)
// Each per-tensor norm is summed in double and rounded to float32 (torch keeps it as a float32
// tensor); the clip coefficient is formed in float32 as torch's tensor arithmetic does. A non-finite
// total (a NaN or infinite gradient) makes every gradient NaN, as torch does with
// error_if_nonfinite=False; nonFinite() lets a training loop check first and skip the step.
// Parameters are handled in parallel (each on one thread, so each norm and product is what a serial loop gives).
package dev.ldm4j.train.optim;

public final class GradClipping {
    private GradClipping() {
    }

    /** The L2 norm of all gradients together, as clip_grad_norm_ computes it, without changing them. */
    public static float totalNorm(TrainableParams params) {
        java.util.List<TrainableParams.Param> list = params.list();
        float[] norms = new float[list.size()];
        java.util.stream.IntStream.range(0, norms.length).parallel().forEach(i -> norms[i] = norm(list.get(i).grad()));
        double sumOfSquares = 0;
        for (float norm : norms) { // in the parameters' order, whichever thread computed each norm
            sumOfSquares += (double) norm * norm;
        }
        return (float) Math.sqrt(sumOfSquares);
    }

    /**
     * Scales the gradients in place so their total L2 norm is at most maxNorm (up to the 1e-6 in the
     * denominator) and returns the total norm they had before.
     */
    public static float clipGradNorm(TrainableParams params, double maxNorm) {
        if (!(maxNorm >= 0)) {
            throw new IllegalArgumentException("max_norm " + maxNorm + " must be a non-negative number");
        }
        float total = totalNorm(params);
        float clipCoef = (float) maxNorm / (total + 1e-6f);
        float scale = Math.min(clipCoef, 1f); // NaN stays NaN, as torch.clamp(max=1) keeps it
        params.list().parallelStream().forEach(p -> {
            float[] g = p.grad();
            for (int i = 0; i < g.length; i++) {
                g[i] *= scale;
            }
        });
        return total;
    }

    /** True when a norm from totalNorm or clipGradNorm is NaN or infinite. */
    public static boolean nonFinite(float norm) {
        return !Float.isFinite(norm);
    }

    private static float norm(float[] g) {
        double s = 0;
        for (float x : g) {
            s += (double) x * x;
        }
        return (float) Math.sqrt(s);
    }
}
