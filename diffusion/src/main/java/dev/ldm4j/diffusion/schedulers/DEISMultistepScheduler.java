// Diffusion Exponential Integrator Sampler (Zhang & Chen 2022, arXiv:2204.13902), the multistep
// "log-rho" variant: the noise prediction is extrapolated by a Lagrange polynomial in log(rho),
// rho = sigma_t / alpha_t, and integrated exactly against d rho (the paper's eq. 14 and Appendix,
// "tAB-DEIS" in log-rho). Mirrors diffusers' DEISMultistepScheduler.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class DEISMultistepScheduler extends BaseScheduler {
    public static Map<String, Object> defaults() {
        Map<String, Object> d = DpmMath.solverDefaults();
        d.put("algorithm_type", "deis");
        d.put("solver_type", "logrho");
        d.put("lower_order_final", true);
        d.put("use_karras_sigmas", false);
        d.put("use_exponential_sigmas", false);
        d.put("use_beta_sigmas", false);
        d.put("use_flow_sigmas", false);
        d.put("flow_shift", 1.0);
        d.put("timestep_spacing", "linspace");
        d.put("steps_offset", 0L);
        d.put("use_dynamic_shifting", false);
        d.put("time_shift_type", "exponential");
        return d;
    }

    private final String predictionType;
    private final int solverOrder;
    private final DynamicThresholding thresholding;
    private double[][] modelOutputs;
    private int lowerOrderNums;

    public DEISMultistepScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("DEISMultistepScheduler", defaults(), config));
    }

    public DEISMultistepScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        // diffusers maps the DPM-Solver names onto DEIS's only algorithm, log-rho DEIS.
        config.getChoice("algorithm_type", "deis", "dpmsolver", "dpmsolver++");
        config.getChoice("solver_type", "logrho", "midpoint", "heun", "bh1", "bh2");
        solverOrder = solverOrder();
        thresholding = dynamicThresholding();
        rejectUnsupportedSigmaOptions();
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        boolean karras = config.getBoolean("use_karras_sigmas");
        SigmaSchedule s = SigmaSchedule.dpm(config, alphasCumprod, steps, numTrainTimesteps, karras);
        // DEIS ends at a small positive sigma: the last Karras sigma, or the noise level of train step 0.
        double last = karras ? s.sigmas()[s.sigmas().length - 1] : NoiseSchedule.trainSigmas(alphasCumprod)[0];
        timesteps = s.timesteps();
        sigmas = s.withFinal(last);
        modelOutputs = new double[solverOrder][];
        lowerOrderNums = 0;
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        int n = timesteps.length;
        boolean lowerOrderFinal = stepIndex == n - 1 && config.getBoolean("lower_order_final") && n < 15;
        boolean lowerOrderSecond = stepIndex == n - 2 && config.getBoolean("lower_order_final") && n < 15;

        // DEIS integrates the noise prediction: eps = (x - alpha_t x0) / sigma_t with x0 from the model.
        double sigma = sigmas[stepIndex];
        double alpha = DpmMath.alphaOf(sigma);
        double sigmaT = sigma * alpha;
        double[] x0 = DpmMath.convertModelOutput(predictionType, true, modelOutput, sample, sigma, thresholding, shape);
        double[] eps = new double[x0.length];
        for (int i = 0; i < eps.length; i++) {
            eps[i] = (sample[i] - alpha * x0[i]) / sigmaT;
        }
        System.arraycopy(modelOutputs, 1, modelOutputs, 0, solverOrder - 1);
        modelOutputs[solverOrder - 1] = eps;

        float[] out;
        if (solverOrder == 1 || lowerOrderNums < 1 || lowerOrderFinal) {
            out = firstOrder(stepIndex, sample);
        } else if (solverOrder == 2 || lowerOrderNums < 2 || lowerOrderSecond) {
            out = secondOrder(stepIndex, sample);
        } else {
            out = thirdOrder(stepIndex, sample);
        }
        if (lowerOrderNums < solverOrder) {
            lowerOrderNums++;
        }
        return out;
    }

    /** First order = DDIM: x_t = (alpha_t / alpha_s) x - sigma_t (e^h - 1) eps. */
    private float[] firstOrder(int i, float[] sample) {
        double sT = sigmas[i + 1];
        double sS = sigmas[i];
        double alphaT = DpmMath.alphaOf(sT);
        double alphaS = DpmMath.alphaOf(sS);
        double h = DpmMath.lambdaOf(sT) - DpmMath.lambdaOf(sS);
        double cx = alphaT / alphaS;
        double cm = -sT * alphaT * (Math.exp(h) - 1.0);
        double[] m0 = modelOutputs[solverOrder - 1];
        float[] out = new float[sample.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = (float) (cx * sample[k] + cm * m0[k]);
        }
        return out;
    }

    /** Integral of the Lagrange basis (log t - log c) / (log b - log c) with respect to t. */
    private static double ind2(double t, double b, double c) {
        return t * (-Math.log(c) + Math.log(t) - 1) / (Math.log(b) - Math.log(c));
    }

    /** Integral of (log t - log c)(log t - log d) / ((log b - log c)(log b - log d)) with respect to t. */
    private static double ind3(double t, double b, double c, double d) {
        double lt = Math.log(t);
        double lc = Math.log(c);
        double ld = Math.log(d);
        double numerator = t * (lc * (ld - lt + 1) - ld * lt + ld + lt * lt - 2 * lt + 2);
        double denominator = (Math.log(b) - lc) * (Math.log(b) - ld);
        return numerator / denominator;
    }

    /** In rho = sigma / alpha (the k-diffusion sigma): x_t = alpha_t (x / alpha_s0 + c1 eps0 + c2 eps1). */
    private float[] secondOrder(int i, float[] sample) {
        double rhoT = sigmas[i + 1];
        double rhoS0 = sigmas[i];
        double rhoS1 = sigmas[i - 1];
        double alphaT = DpmMath.alphaOf(rhoT);
        double alphaS0 = DpmMath.alphaOf(rhoS0);
        double c1 = ind2(rhoT, rhoS0, rhoS1) - ind2(rhoS0, rhoS0, rhoS1);
        double c2 = ind2(rhoT, rhoS1, rhoS0) - ind2(rhoS0, rhoS1, rhoS0);
        double[] m0 = modelOutputs[solverOrder - 1];
        double[] m1 = modelOutputs[solverOrder - 2];
        float[] out = new float[sample.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = (float) (alphaT * (sample[k] / alphaS0 + c1 * m0[k] + c2 * m1[k]));
        }
        return out;
    }

    private float[] thirdOrder(int i, float[] sample) {
        double rhoT = sigmas[i + 1];
        double rhoS0 = sigmas[i];
        double rhoS1 = sigmas[i - 1];
        double rhoS2 = sigmas[i - 2];
        double alphaT = DpmMath.alphaOf(rhoT);
        double alphaS0 = DpmMath.alphaOf(rhoS0);
        double c1 = ind3(rhoT, rhoS0, rhoS1, rhoS2) - ind3(rhoS0, rhoS0, rhoS1, rhoS2);
        double c2 = ind3(rhoT, rhoS1, rhoS2, rhoS0) - ind3(rhoS0, rhoS1, rhoS2, rhoS0);
        double c3 = ind3(rhoT, rhoS2, rhoS0, rhoS1) - ind3(rhoS0, rhoS2, rhoS0, rhoS1);
        double[] m0 = modelOutputs[solverOrder - 1];
        double[] m1 = modelOutputs[solverOrder - 2];
        double[] m2 = modelOutputs[solverOrder - 3];
        float[] out = new float[sample.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = (float) (alphaT * (sample[k] / alphaS0 + c1 * m0[k] + c2 * m1[k] + c3 * m2[k]));
        }
        return out;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int stepIndex) {
        checkStep(stepIndex, original);
        checkSame(noise, original);
        return DpmMath.addNoise(original, noise, sigmas[stepIndex]);
    }
}
