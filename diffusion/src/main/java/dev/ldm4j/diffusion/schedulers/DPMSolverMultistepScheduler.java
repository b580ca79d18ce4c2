// DPM-Solver (Lu et al. 2022, arXiv:2206.00927) and DPM-Solver++ (Lu et al. 2022, arXiv:2211.01095):
// exponential-integrator solvers of the diffusion ODE in lambda = log(alpha_t / sigma_t), multistep
// variant reusing past model outputs. "dpmsolver++" with order 2 is A1111's "DPM++ 2M";
// "sde-dpmsolver++" is "DPM++ 2M SDE" (one noise draw per step). Mirrors diffusers'
// DPMSolverMultistepScheduler.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Map;

public final class DPMSolverMultistepScheduler extends BaseScheduler {
    public static Map<String, Object> defaults() {
        Map<String, Object> d = DpmMath.solverDefaults();
        d.put("algorithm_type", "dpmsolver++");
        d.put("solver_type", "midpoint");
        d.put("lower_order_final", true);
        d.put("euler_at_final", false);
        d.put("use_karras_sigmas", false);
        d.put("use_exponential_sigmas", false);
        d.put("use_beta_sigmas", false);
        d.put("use_lu_lambdas", false);
        d.put("use_flow_sigmas", false);
        d.put("flow_shift", 1.0);
        d.put("final_sigmas_type", "zero");
        d.put("lambda_min_clipped", Double.NEGATIVE_INFINITY);
        d.put("variance_type", null);
        d.put("timestep_spacing", "linspace");
        d.put("steps_offset", 0L);
        d.put("rescale_betas_zero_snr", false);
        d.put("use_dynamic_shifting", false);
        d.put("time_shift_type", "exponential");
        return d;
    }

    private final String predictionType;
    private final String algorithm;
    private final String solverType;
    private final int solverOrder;
    private final DynamicThresholding thresholding;

    // Multistep state (reset by setTimesteps): the last solverOrder data/noise predictions.
    private double[][] modelOutputs;
    private int lowerOrderNums;

    public DPMSolverMultistepScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("DPMSolverMultistepScheduler", defaults(), config));
    }

    public DPMSolverMultistepScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        algorithm = DpmMath.algorithmType(config);
        String st = config.getChoice("solver_type", "midpoint", "heun", "logrho", "bh1", "bh2");
        solverType = st.equals("heun") ? "heun" : "midpoint";
        solverOrder = solverOrder();
        thresholding = dynamicThresholding();
        DpmMath.checkVarianceAndFinalSigmas(config, algorithm);
        rejectUnsupportedSigmaOptions();
        if (config.getBoolean("rescale_betas_zero_snr")) {
            alphasCumprod[numTrainTimesteps - 1] = 0x1p-24f;
        }
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        SigmaSchedule s = DpmMath.schedule(config, alphasCumprod, steps);
        timesteps = s.timesteps();
        sigmas = s.withFinal(DpmMath.finalSigma(config, alphasCumprod));
        modelOutputs = new double[solverOrder][];
        lowerOrderNums = 0;
    }

    /**
     * set_timesteps(timesteps=t): whole train timesteps, each sigma interpolated from the train sigmas, then the final
     * sigma (final_sigmas_type); not with Karras sigmas, as diffusers.
     */
    @Override
    public void setCustomTimesteps(double[] t) {
        CustomSchedule.checkTimesteps(this, t, numTrainTimesteps, true);
        numInferenceSteps = t.length;
        timesteps = t.clone();
        sigmas = SigmaSchedule.atTimesteps(timesteps, alphasCumprod).withFinal(DpmMath.finalSigma(config, alphasCumprod));
        modelOutputs = new double[solverOrder][];
        lowerOrderNums = 0;
    }

    private double[] convertModelOutput(float[] modelOutput, float[] sample, double sigma, int[] shape) {
        return DpmMath.convertModelOutput(predictionType, algorithm.endsWith("dpmsolver++"), modelOutput, sample, sigma, thresholding, shape);
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        int n = timesteps.length;
        boolean lowerOrderFinal = stepIndex == n - 1 && (config.getBoolean("euler_at_final")
                || (config.getBoolean("lower_order_final") && n < 15)
                || config.getString("final_sigmas_type").equals("zero"));
        boolean lowerOrderSecond = stepIndex == n - 2 && config.getBoolean("lower_order_final") && n < 15;

        double[] m0 = convertModelOutput(modelOutput, sample, sigmas[stepIndex], shape);
        System.arraycopy(modelOutputs, 1, modelOutputs, 0, solverOrder - 1);
        modelOutputs[solverOrder - 1] = m0;

        float[] z = algorithm.startsWith("sde") ? randn(noise, shape, sample.length) : null;
        float[] out;
        if (solverOrder == 1 || lowerOrderNums < 1 || lowerOrderFinal) {
            out = firstOrder(stepIndex, m0, sample, z);
        } else if (solverOrder == 2 || lowerOrderNums < 2 || lowerOrderSecond) {
            out = secondOrder(stepIndex, sample, z);
        } else {
            out = thirdOrder(stepIndex, sample);
        }
        if (lowerOrderNums < solverOrder) {
            lowerOrderNums++;
        }
        return out;
    }

    /** First order = DDIM in lambda (DPM-Solver++ eq. 5 / DPM-Solver eq. 3.7), with the SDE variants' noise term. */
    private float[] firstOrder(int i, double[] m0, float[] sample, float[] z) {
        DpmMath.Coefficients c = DpmMath.coefficients(algorithm, false, sigmas[i], sigmas[i + 1]);
        float[] out = new float[sample.length];
        for (int k = 0; k < out.length; k++) {
            double v = c.cx() * sample[k] + c.c0() * m0[k];
            if (z != null) {
                v += c.cz() * z[k];
            }
            out[k] = (float) v;
        }
        return out;
    }

    /** Multistep second order (DPM-Solver++ Algorithm 2 "2M"; midpoint or heun form of the D1 term). */
    private float[] secondOrder(int i, float[] sample, float[] z) {
        double lambdaS0 = DpmMath.lambdaOf(sigmas[i]);
        double h = DpmMath.lambdaOf(sigmas[i + 1]) - lambdaS0;
        double r0 = (lambdaS0 - DpmMath.lambdaOf(sigmas[i - 1])) / h;
        double[] m0 = modelOutputs[solverOrder - 1];
        double[] m1 = modelOutputs[solverOrder - 2];
        DpmMath.Coefficients c = DpmMath.coefficients(algorithm, solverType.equals("midpoint"), sigmas[i], sigmas[i + 1]);
        float[] out = new float[sample.length];
        for (int k = 0; k < out.length; k++) {
            double d1 = (1.0 / r0) * (m0[k] - m1[k]);
            double v = c.cx() * sample[k] + c.c0() * m0[k] + c.c1() * d1;
            if (z != null) {
                v += c.cz() * z[k];
            }
            out[k] = (float) v;
        }
        return out;
    }

    /** Multistep third order (DPM-Solver eq. 3.10 / DPM-Solver++ 3M), ODE variants only. */
    private float[] thirdOrder(int i, float[] sample) {
        if (algorithm.startsWith("sde")) {
            throw new IllegalStateException(name() + ": third order is not defined for " + algorithm);
        }
        double lambdaS0 = DpmMath.lambdaOf(sigmas[i]);
        double lambdaS1 = DpmMath.lambdaOf(sigmas[i - 1]);
        double lambdaS2 = DpmMath.lambdaOf(sigmas[i - 2]);
        double h = DpmMath.lambdaOf(sigmas[i + 1]) - lambdaS0;
        double r0 = (lambdaS0 - lambdaS1) / h;
        double r1 = (lambdaS1 - lambdaS2) / h;
        double[] m0 = modelOutputs[solverOrder - 1];
        double[] m1 = modelOutputs[solverOrder - 2];
        double[] m2 = modelOutputs[solverOrder - 3];
        DpmMath.Coefficients c = DpmMath.coefficients(algorithm, false, sigmas[i], sigmas[i + 1]);
        float[] out = new float[sample.length];
        for (int k = 0; k < out.length; k++) {
            double d10 = (1.0 / r0) * (m0[k] - m1[k]);
            double d11 = (1.0 / r1) * (m1[k] - m2[k]);
            double d1 = d10 + (r0 / (r0 + r1)) * (d10 - d11);
            double d2 = (1.0 / (r0 + r1)) * (d10 - d11);
            out[k] = (float) (c.cx() * sample[k] + c.c0() * m0[k] + c.c1() * d1 + c.c2() * d2);
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
