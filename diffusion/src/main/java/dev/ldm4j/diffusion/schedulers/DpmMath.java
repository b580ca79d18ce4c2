// The variance-preserving quantities the DPM-Solver family (DPM-Solver, DPM-Solver++, UniPC, DEIS)
// works in, expressed through the k-diffusion noise level sigma = sigma_t / alpha_t.
// Also the settings and schedule setup that DPMSolverMultistepScheduler and DPMSolverSinglestepScheduler
// read the same way.
package dev.ldm4j.diffusion.schedulers;

import java.util.Map;

final class DpmMath {
    private DpmMath() {
    }

    /**
     * The first settings of DPM-Solver (multistep and singlestep), DEIS and UniPC, in diffusers'
     * order and with its defaults; each scheduler appends its own.
     */
    static Map<String, Object> solverDefaults() {
        Map<String, Object> d = NoiseSchedule.trainDefaults(0.0001, 0.02, "linear");
        d.put("solver_order", 2L);
        d.put("prediction_type", "epsilon");
        d.put("thresholding", false);
        d.put("dynamic_thresholding_ratio", 0.995);
        d.put("sample_max_value", 1.0);
        return d;
    }

    /** DPM-Solver's algorithm_type; "deis" runs as dpmsolver++, as diffusers registers it. */
    static String algorithmType(SchedulerConfig c) {
        String alg = c.getChoice("algorithm_type", "dpmsolver", "dpmsolver++", "sde-dpmsolver", "sde-dpmsolver++", "deis");
        return alg.equals("deis") ? "dpmsolver++" : alg;
    }

    /** Rejects a variance_type (learned-variance models), and final_sigmas_type = zero with a noise-predicting algorithm. */
    static void checkVarianceAndFinalSigmas(SchedulerConfig c, String algorithm) {
        if (c.asMap().get("variance_type") != null) {
            throw new IllegalArgumentException(c.className() + ": variance_type = " + c.asMap().get("variance_type") + " is not supported");
        }
        String finalType = c.getChoice("final_sigmas_type", "zero", "sigma_min");
        if (!algorithm.endsWith("dpmsolver++") && finalType.equals("zero")) {
            throw new IllegalArgumentException(c.className() + ": final_sigmas_type = zero needs algorithm_type dpmsolver++ or sde-dpmsolver++; use sigma_min with " + algorithm);
        }
    }

    /** DPM-Solver's inference schedule: timesteps up to the last one above lambda_min_clipped, optionally Karras sigmas. */
    static SigmaSchedule schedule(SchedulerConfig c, float[] alphasCumprod, int steps) {
        int lastTimestep = NoiseSchedule.lastTimestepAboveLambda(alphasCumprod, c.getDouble("lambda_min_clipped"));
        return SigmaSchedule.dpm(c, alphasCumprod, steps, lastTimestep, c.getBoolean("use_karras_sigmas"));
    }

    /** The sigma DPM-Solver ends at: 0 (final_sigmas_type zero) or the noise level of train step 0 (sigma_min). */
    static double finalSigma(SchedulerConfig c, float[] alphasCumprod) {
        return c.getString("final_sigmas_type").equals("zero") ? 0.0 : NoiseSchedule.trainSigmas(alphasCumprod)[0];
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
