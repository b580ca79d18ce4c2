// Singlestep DPM-Solver / DPM-Solver++ (Lu et al. 2022, arXiv:2206.00927 Algorithms 1-2 and
// arXiv:2211.01095 Algorithm 1): each solver step of order k spends k model evaluations, the
// intermediate ones at the next schedule points, and restarts from the sample at the beginning of
// the step. With order 2 and dpmsolver++ this is A1111's "DPM++ 2S" (without the ancestral noise).
// Mirrors diffusers' DPMSolverSinglestepScheduler.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public final class DPMSolverSinglestepScheduler extends BaseScheduler {
    public static Map<String, Object> defaults() {
        Map<String, Object> d = DpmMath.solverDefaults();
        d.put("algorithm_type", "dpmsolver++");
        d.put("solver_type", "midpoint");
        d.put("lower_order_final", true);
        d.put("use_karras_sigmas", false);
        d.put("use_exponential_sigmas", false);
        d.put("use_beta_sigmas", false);
        d.put("use_flow_sigmas", false);
        d.put("flow_shift", 1.0);
        d.put("final_sigmas_type", "zero");
        d.put("lambda_min_clipped", Double.NEGATIVE_INFINITY);
        d.put("variance_type", null);
        d.put("use_dynamic_shifting", false);
        d.put("time_shift_type", "exponential");
        return d;
    }

    private final String predictionType;
    private final String algorithm;
    private final boolean midpoint;
    private final int solverOrder;
    private final DynamicThresholding thresholding;

    // Per-schedule state (reset by setTimesteps).
    private int[] orderList;
    private double[][] modelOutputs;
    private float[] stepStart; // the sample at the start of the current solver step

    public DPMSolverSinglestepScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("DPMSolverSinglestepScheduler", defaults(), config));
    }

    public DPMSolverSinglestepScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        algorithm = DpmMath.algorithmType(config);
        midpoint = !config.getChoice("solver_type", "midpoint", "heun", "logrho", "bh1", "bh2").equals("heun");
        solverOrder = solverOrder();
        thresholding = dynamicThresholding();
        DpmMath.checkVarianceAndFinalSigmas(config, algorithm);
        rejectUnsupportedSigmaOptions();
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        SigmaSchedule s = DpmMath.schedule(config, alphasCumprod, steps);
        boolean zero = config.getString("final_sigmas_type").equals("zero");
        timesteps = s.timesteps();
        sigmas = s.withFinal(DpmMath.finalSigma(config, alphasCumprod));
        // diffusers forces lower_order_final for odd step counts and for a zero final sigma.
        boolean lowerOrderFinal = config.getBoolean("lower_order_final") || zero || steps % solverOrder != 0;
        orderList = orderList(steps, solverOrder, lowerOrderFinal);
        modelOutputs = new double[solverOrder][];
        stepStart = null;
    }

    /** The order used at each schedule point: cycles 1, 2(, 3), ending in lower orders if requested. */
    static int[] orderList(int steps, int order, boolean lowerOrderFinal) {
        List<Integer> orders = new ArrayList<>();
        if (order == 1) {
            for (int i = 0; i < steps; i++) {
                orders.add(1);
            }
        } else if (!lowerOrderFinal) {
            for (int i = 0; i < steps / order * order; i++) {
                orders.add(i % order + 1);
            }
        } else if (order == 2) {
            int pairs = steps % 2 == 0 ? steps / 2 - 1 : steps / 2;
            for (int i = 0; i < pairs; i++) {
                orders.add(1);
                orders.add(2);
            }
            orders.add(1);
            if (steps % 2 == 0) {
                orders.add(1);
            }
        } else {
            int triples = steps % 3 == 0 ? steps / 3 - 1 : steps / 3;
            for (int i = 0; i < triples; i++) {
                orders.add(1);
                orders.add(2);
                orders.add(3);
            }
            switch (steps % 3) {
                case 0 -> orders.addAll(List.of(1, 2, 1));
                case 1 -> orders.add(1);
                default -> orders.addAll(List.of(1, 2));
            }
        }
        return orders.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        double[] m = DpmMath.convertModelOutput(predictionType, algorithm.endsWith("dpmsolver++"), modelOutput, sample, sigmas[stepIndex],
                thresholding, shape);
        System.arraycopy(modelOutputs, 1, modelOutputs, 0, solverOrder - 1);
        modelOutputs[solverOrder - 1] = m;
        float[] z = algorithm.startsWith("sde") ? randn(noise, shape, sample.length) : null;

        int order = stepIndex < orderList.length ? orderList[stepIndex] : 1;
        // Starting mid-schedule (img2img): fall back to the orders the stored outputs allow.
        while (modelOutputs[solverOrder - order] == null) {
            order--;
        }
        if (order == 1) {
            stepStart = sample;
        }
        return switch (order) {
            case 1 -> firstOrder(stepIndex, m, stepStart, z);
            case 2 -> secondOrder(stepIndex, stepStart, z);
            default -> thirdOrder(stepIndex, stepStart);
        };
    }

    private float[] firstOrder(int i, double[] m0, float[] sample, float[] z) {
        DpmMath.Coefficients c = DpmMath.coefficients(algorithm, midpoint, sigmas[i], sigmas[i + 1]);
        float[] out = new float[sample.length];
        for (int k = 0; k < out.length; k++) {
            out[k] = (float) (c.cx() * sample[k] + c.c0() * m0[k] + (z == null ? 0 : c.cz() * z[k]));
        }
        return out;
    }

    /**
     * Singlestep second order from the step's start s1 (DPM-Solver-2 / DPM-Solver++(2S)): m1 is the
     * output at s1, m0 at the intermediate point s0, r0 = (lambda_s0 - lambda_s1) / h.
     */
    private float[] secondOrder(int i, float[] sample, float[] z) {
        double sT = sigmas[i + 1];
        double sS1 = sigmas[i - 1];
        double lambdaS1 = DpmMath.lambdaOf(sS1);
        double h = DpmMath.lambdaOf(sT) - lambdaS1;
        double r0 = (DpmMath.lambdaOf(sigmas[i]) - lambdaS1) / h;
        double[] m0 = modelOutputs[solverOrder - 1];
        double[] m1 = modelOutputs[solverOrder - 2];
        DpmMath.Coefficients c = DpmMath.coefficients(algorithm, midpoint, sS1, sT);
        float[] out = new float[sample.length];
        for (int k = 0; k < out.length; k++) {
            double d1 = (1.0 / r0) * (m0[k] - m1[k]);
            out[k] = (float) (c.cx() * sample[k] + c.c0() * m1[k] + c.c1() * d1 + (z == null ? 0 : c.cz() * z[k]));
        }
        return out;
    }

    /** Singlestep third order from the step's start s2 (DPM-Solver-3, Lu et al. 2022 Algorithm 2). */
    private float[] thirdOrder(int i, float[] sample) {
        if (algorithm.startsWith("sde")) {
            throw new IllegalStateException(name() + ": third order is not defined for " + algorithm);
        }
        double sT = sigmas[i + 1];
        double sS2 = sigmas[i - 2];
        double lambdaS2 = DpmMath.lambdaOf(sS2);
        double h = DpmMath.lambdaOf(sT) - lambdaS2;
        double r0 = (DpmMath.lambdaOf(sigmas[i]) - lambdaS2) / h;
        double r1 = (DpmMath.lambdaOf(sigmas[i - 1]) - lambdaS2) / h;
        double[] m0 = modelOutputs[solverOrder - 1];
        double[] m1 = modelOutputs[solverOrder - 2];
        double[] m2 = modelOutputs[solverOrder - 3];
        DpmMath.Coefficients c = DpmMath.coefficients(algorithm, false, sS2, sT);
        float[] out = new float[sample.length];
        for (int k = 0; k < out.length; k++) {
            double d10 = (1.0 / r1) * (m1[k] - m2[k]);
            double d11 = (1.0 / r0) * (m0[k] - m2[k]);
            double v = c.cx() * sample[k] + c.c0() * m2[k];
            if (midpoint) {
                v += c.c1() * d11;
            } else {
                double d1 = (r0 * d10 - r1 * d11) / (r0 - r1);
                double d2 = 2.0 * (d11 - d10) / (r0 - r1);
                v += c.c1() * d1 + c.c2() * d2;
            }
            out[k] = (float) v;
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
