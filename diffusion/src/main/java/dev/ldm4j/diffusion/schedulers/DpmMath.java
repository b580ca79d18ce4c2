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

    /**
     * convertModelOutput with dynamic thresholding (null: none) of the x0 it implies, as diffusers'
     * convert_model_output: the data prediction is thresholded; the noise prediction is recomputed from the
     * thresholded x0, eps = (x - alpha_t x0) / sigma_t. shape's first dimension is the batch (each image its own threshold).
     */
    static double[] convertModelOutput(String predictionType, boolean dataPrediction, float[] modelOutput, float[] sample, double sigma,
                                       DynamicThresholding thresholding, int[] shape) {
        if (thresholding == null) {
            return convertModelOutput(predictionType, dataPrediction, modelOutput, sample, sigma);
        }
        double[] x0 = convertModelOutput(predictionType, true, modelOutput, sample, sigma);
        thresholding.apply(x0, shape[0]);
        if (dataPrediction) {
            return x0;
        }
        double alpha = alphaOf(sigma);
        double sigmaT = sigma * alpha;
        double[] eps = new double[x0.length];
        for (int i = 0; i < eps.length; i++) {
            eps[i] = (sample[i] - alpha * x0[i]) / sigmaT;
        }
        return eps;
    }

    /**
     * The scalar coefficients of one DPM-Solver update from noise level sS to sT, with
     * h = lambda_t - lambda_s: x_t = cx x_s + c0 m + c1 D1 + c2 D2 + cz z, where m is the model output
     * at the step's start, D1 and D2 are its first and second differences and z is fresh noise. They
     * are those of diffusers' dpm_solver_{first,second,third}_order_update for each algorithm_type
     * (DPM-Solver, Lu et al. 2022 eqs. 3.7-3.10; DPM-Solver++, Lu et al. 2022b eq. 5 and Algorithms 1-2).
     * c1 is the midpoint form (-c0 / 2) when midpoint, else the Taylor ("heun") form; c2 is defined
     * for the ODE algorithms only (NaN for the SDE ones); cz is 0 for the ODE algorithms.
     */
    record Coefficients(double cx, double c0, double c1, double c2, double cz) {
    }

    static Coefficients coefficients(String algorithm, boolean midpoint, double sS, double sT) {
        double alphaT = alphaOf(sT);
        double sigmaT = sT * alphaT;
        double alphaS = alphaOf(sS);
        double sigmaS = sS * alphaS;
        double h = lambdaOf(sT) - lambdaOf(sS);
        return switch (algorithm) {
            case "dpmsolver++" -> new Coefficients(
                    sigmaT / sigmaS,
                    -alphaT * (Math.exp(-h) - 1.0),
                    midpoint ? -0.5 * alphaT * (Math.exp(-h) - 1.0) : alphaT * ((Math.exp(-h) - 1.0) / h + 1.0),
                    -alphaT * ((Math.exp(-h) - 1.0 + h) / (h * h) - 0.5),
                    0);
            case "dpmsolver" -> new Coefficients(
                    alphaT / alphaS,
                    -sigmaT * (Math.exp(h) - 1.0),
                    midpoint ? -0.5 * sigmaT * (Math.exp(h) - 1.0) : -sigmaT * ((Math.exp(h) - 1.0) / h - 1.0),
                    -sigmaT * ((Math.exp(h) - 1.0 - h) / (h * h) - 0.5),
                    0);
            case "sde-dpmsolver++" -> new Coefficients(
                    sigmaT / sigmaS * Math.exp(-h),
                    alphaT * (1 - Math.exp(-2.0 * h)),
                    midpoint ? 0.5 * alphaT * (1 - Math.exp(-2.0 * h)) : alphaT * ((1.0 - Math.exp(-2.0 * h)) / (-2.0 * h) + 1.0),
                    Double.NaN,
                    sigmaT * Math.sqrt(1.0 - Math.exp(-2 * h)));
            default -> new Coefficients( // sde-dpmsolver
                    alphaT / alphaS,
                    -2.0 * sigmaT * (Math.exp(h) - 1.0),
                    midpoint ? -sigmaT * (Math.exp(h) - 1.0) : -2.0 * sigmaT * ((Math.exp(h) - 1.0) / h - 1.0),
                    Double.NaN,
                    sigmaT * Math.sqrt(Math.exp(2 * h) - 1.0));
        };
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
