// The variance-preserving quantities the DPM-Solver family (DPM-Solver, DPM-Solver++, UniPC, DEIS)
// works in, expressed through the k-diffusion noise level sigma = sigma_t / alpha_t.
package dev.ldm4j.diffusion.schedulers;

final class DpmMath {
    private DpmMath() {
    }

    /** alpha_t = 1 / sqrt(sigma^2 + 1) of the VP process at noise level sigma (sigma_t = sigma * alpha_t). */
    static double alphaOf(double sigma) {
        return 1 / Math.sqrt(sigma * sigma + 1);
    }

    /** lambda = log(alpha_t / sigma_t), the half log-SNR of DPM-Solver (Lu et al. 2022, sec. 3.1); +inf at sigma = 0. */
    static double lambdaOf(double sigma) {
        double a = alphaOf(sigma);
        return Math.log(a) - Math.log(sigma * a);
    }

    /**
     * The model output as the prediction the solver integrates: the data prediction x0
     * (DPM-Solver++, UniPC with predict_x0) or the noise prediction eps (DPM-Solver, DEIS).
     */
    static double[] convertModelOutput(String predictionType, boolean dataPrediction, float[] modelOutput, float[] sample, double sigma) {
        double alpha = alphaOf(sigma);
        double sigmaT = sigma * alpha;
        double[] out = new double[sample.length];
        for (int i = 0; i < out.length; i++) {
            double m = modelOutput[i];
            double x = sample[i];
            if (dataPrediction) {
                out[i] = switch (predictionType) {
                    case "epsilon" -> (x - sigmaT * m) / alpha;
                    case "sample" -> m;
                    default -> alpha * x - sigmaT * m; // v-prediction
                };
            } else {
                out[i] = switch (predictionType) {
                    case "epsilon" -> m;
                    case "sample" -> (x - alpha * m) / sigmaT;
                    default -> alpha * m + sigmaT * x;
                };
            }
        }
        return out;
    }

    /** add_noise of the VP process: alpha_t x0 + sigma_t noise at noise level sigma. */
    static float[] addNoise(float[] original, float[] noise, double sigma) {
        double alpha = alphaOf(sigma);
        double sigmaT = sigma * alpha;
        float[] out = new float[original.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = (float) (alpha * original[k] + sigmaT * noise[k]);
        }
        return out;
    }
}
