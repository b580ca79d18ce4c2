// UniPC (Zhao, Bai, Rao, Zhou & Lu 2023, arXiv:2302.04867): a multistep predictor (UniP) followed,
// at the next call, by a corrector (UniC) that reuses the fresh model evaluation at no extra cost.
// Both are exponential integrators in lambda = log(alpha_t / sigma_t) with coefficients from the
// B(h) functions of the paper (bh1: B(h) = h, bh2: B(h) = e^h - 1; eqs. 5-8, Algorithms 2-3).
// Mirrors diffusers' UniPCMultistepScheduler (without the optional solver_p).
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

public final class UniPCMultistepScheduler extends BaseScheduler {
    public static Map<String, Object> defaults() {
        Map<String, Object> d = DpmMath.solverDefaults();
        d.put("predict_x0", true);
        d.put("solver_type", "bh2");
        d.put("lower_order_final", true);
        d.put("disable_corrector", List.of());
        d.put("solver_p", null);
        d.put("use_karras_sigmas", false);
        d.put("use_exponential_sigmas", false);
        d.put("use_beta_sigmas", false);
        d.put("use_flow_sigmas", false);
        d.put("flow_shift", 1.0);
        d.put("timestep_spacing", "linspace");
        d.put("steps_offset", 0L);
        d.put("final_sigmas_type", "zero");
        d.put("rescale_betas_zero_snr", false);
        d.put("use_dynamic_shifting", false);
        d.put("time_shift_type", "exponential");
        d.put("sigma_min", null);
        d.put("sigma_max", null);
        d.put("shift_terminal", null);
        return d;
    }

    private final String predictionType;
    private final boolean predictX0;
    private final boolean bh1;
    private final int solverOrder;
    private final DynamicThresholding thresholding;
    private final Set<Integer> disableCorrector = new HashSet<>();

    // Multistep state (reset by setTimesteps).
    private double[][] modelOutputs;
    private int lowerOrderNums;
    private int thisOrder;
    private float[] lastSample;

    public UniPCMultistepScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("UniPCMultistepScheduler", defaults(), config));
    }

    public UniPCMultistepScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "sample", "v_prediction");
        predictX0 = config.getBoolean("predict_x0");
        // Other solver types are mapped to bh2, as diffusers registers them.
        bh1 = config.getChoice("solver_type", "bh1", "bh2", "midpoint", "heun", "logrho").equals("bh1");
        solverOrder = config.getInt("solver_order");
        if (solverOrder < 1) {
            throw new IllegalArgumentException(name() + ": solver_order must be at least 1, got " + solverOrder);
        }
        thresholding = dynamicThresholding();
        if (config.asMap().get("solver_p") != null) {
            throw new IllegalArgumentException(name() + ": solver_p is not supported");
        }
        if (config.asMap().get("shift_terminal") != null) {
            throw new IllegalArgumentException(name() + ": shift_terminal is not supported");
        }
        if (config.asMap().get("disable_corrector") instanceof List<?> list) {
            for (Object o : list) {
                if (!(o instanceof Number n)) {
                    throw new IllegalArgumentException(name() + ": disable_corrector must list step indices, got " + o);
                }
                disableCorrector.add(n.intValue());
            }
        }
        config.getChoice("final_sigmas_type", "zero", "sigma_min");
        rejectUnsupportedSigmaOptions();
        if (config.getBoolean("rescale_betas_zero_snr")) {
            alphasCumprod[numTrainTimesteps - 1] = 0x1p-24f;
        }
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        boolean karras = config.getBoolean("use_karras_sigmas");
        SigmaSchedule s = SigmaSchedule.dpm(config, alphasCumprod, steps, numTrainTimesteps, karras);
        double last;
        if (config.getString("final_sigmas_type").equals("zero")) {
            last = 0.0;
        } else {
            last = karras ? s.sigmas()[s.sigmas().length - 1] : NoiseSchedule.trainSigmas(alphasCumprod)[0];
        }
        timesteps = s.timesteps();
        sigmas = s.withFinal(last);
        modelOutputs = new double[solverOrder][];
        lowerOrderNums = 0;
        thisOrder = 0;
        lastSample = null;
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        double[] converted = DpmMath.convertModelOutput(predictionType, predictX0, modelOutput, sample, sigmas[stepIndex],
                thresholding, shape);
        float[] x = sample;
        if (stepIndex > 0 && !disableCorrector.contains(stepIndex - 1) && lastSample != null) {
            x = corrector(stepIndex, converted, lastSample, sample, thisOrder);
        }
        System.arraycopy(modelOutputs, 1, modelOutputs, 0, solverOrder - 1);
        modelOutputs[solverOrder - 1] = converted;

        int order = config.getBoolean("lower_order_final") ? Math.min(solverOrder, timesteps.length - stepIndex) : solverOrder;
        thisOrder = Math.min(order, lowerOrderNums + 1); // warm-up
        lastSample = x;
        float[] out = predictor(stepIndex, x, thisOrder);
        if (lowerOrderNums < solverOrder) {
            lowerOrderNums++;
        }
        return out;
    }

    /** The B(h)-based coefficients shared by UniP and UniC: h*phi_1, B(h), and b_k (UniPC eq. 8). */
    private record Phi(double hPhi1, double bH, double[] b) {
    }

    private Phi phi(double h, int order) {
        double hh = predictX0 ? -h : h;
        double hPhi1 = Math.expm1(hh); // h * phi_1(h) = e^h - 1
        double hPhiK = hPhi1 / hh - 1;
        double bH = bh1 ? hh : Math.expm1(hh);
        double[] b = new double[order];
        double factorial = 1;
        for (int i = 1; i <= order; i++) {
            b[i - 1] = hPhiK * factorial / bH;
            factorial *= i + 1;
            hPhiK = hPhiK / hh - 1 / factorial;
        }
        return new Phi(hPhi1, bH, b);
    }

    /** UniP-p (UniPC Algorithm 2): the predictor from step i to i + 1 using the last p outputs. */
    private float[] predictor(int i, float[] x, int order) {
        double sT = sigmas[i + 1];
        double sS0 = sigmas[i];
        double alphaT = DpmMath.alphaOf(sT);
        double sigmaT = sT * alphaT;
        double alphaS0 = DpmMath.alphaOf(sS0);
        double sigmaS0 = sS0 * alphaS0;
        double lambdaS0 = DpmMath.lambdaOf(sS0);
        double h = DpmMath.lambdaOf(sT) - lambdaS0;
        double[] m0 = modelOutputs[solverOrder - 1];

        int k = order - 1;
        double[] rks = new double[k];
        double[][] d1s = new double[k][];
        for (int j = 1; j < order; j++) {
            double[] mj = modelOutputs[solverOrder - 1 - j];
            double rk = (DpmMath.lambdaOf(sigmas[i - j]) - lambdaS0) / h;
            rks[j - 1] = rk;
            double[] d = new double[x.length];
            for (int e = 0; e < d.length; e++) {
                d[e] = (mj[e] - m0[e]) / rk;
            }
            d1s[j - 1] = d;
        }
        Phi p = phi(h, order);
        double[] rhos = new double[k];
        if (order == 2) {
            rhos[0] = 0.5;
        } else if (k > 0) {
            rhos = solve(vandermonde(rks, k), Arrays.copyOf(p.b(), k));
        }
        return combine(x, m0, d1s, rhos, null, 0, alphaT, sigmaT, alphaS0, sigmaS0, p);
    }

    /**
     * UniC-p (UniPC Algorithm 3): corrects the sample predicted for step i with the model output just
     * computed there (modelT), using the outputs stored before it.
     */
    private float[] corrector(int i, double[] modelT, float[] last, float[] predicted, int order) {
        double sT = sigmas[i];
        double sS0 = sigmas[i - 1];
        double alphaT = DpmMath.alphaOf(sT);
        double sigmaT = sT * alphaT;
        double alphaS0 = DpmMath.alphaOf(sS0);
        double sigmaS0 = sS0 * alphaS0;
        double lambdaS0 = DpmMath.lambdaOf(sS0);
        double h = DpmMath.lambdaOf(sT) - lambdaS0;
        double[] m0 = modelOutputs[solverOrder - 1];

        int k = order - 1;
        double[] rks = new double[order];
        double[][] d1s = new double[k][];
        for (int j = 1; j < order; j++) {
            double[] mj = modelOutputs[solverOrder - 1 - j];
            double rk = (DpmMath.lambdaOf(sigmas[i - (j + 1)]) - lambdaS0) / h;
            rks[j - 1] = rk;
            double[] d = new double[last.length];
            for (int e = 0; e < d.length; e++) {
                d[e] = (mj[e] - m0[e]) / rk;
            }
            d1s[j - 1] = d;
        }
        rks[order - 1] = 1.0;
        Phi p = phi(h, order);
        double[] rhosC;
        if (order == 1) {
            rhosC = new double[] {0.5};
        } else {
            rhosC = solve(vandermonde(rks, order), p.b());
        }
        double[] d1t = new double[last.length];
        for (int e = 0; e < d1t.length; e++) {
            d1t[e] = modelT[e] - m0[e];
        }
        return combine(last, m0, d1s, Arrays.copyOf(rhosC, k), d1t, rhosC[order - 1], alphaT, sigmaT, alphaS0, sigmaS0, p);
    }

    /**
     * x_t = (first-order exponential-integrator step from x) - c * B(h) * (sum_k rho_k D1_k + rhoT D1_t),
     * with c = alpha_t for data prediction and sigma_t for noise prediction.
     */
    private float[] combine(float[] x, double[] m0, double[][] d1s, double[] rhos, double[] d1t, double rhoT,
                            double alphaT, double sigmaT, double alphaS0, double sigmaS0, Phi p) {
        double cx = predictX0 ? sigmaT / sigmaS0 : alphaT / alphaS0;
        double cm = predictX0 ? -alphaT * p.hPhi1() : -sigmaT * p.hPhi1();
        double cr = (predictX0 ? alphaT : sigmaT) * p.bH();
        float[] out = new float[x.length];
        for (int e = 0; e < out.length; e++) {
            double res = 0;
            for (int j = 0; j < rhos.length; j++) {
                res += rhos[j] * d1s[j][e];
            }
            if (d1t != null) {
                res += rhoT * d1t[e];
            }
            out[e] = (float) (cx * x[e] + cm * m0[e] - cr * res);
        }
        return out;
    }

    /** R[r][c] = rks[c]^r for r, c < n (the system of UniPC eq. 8). */
    private static double[][] vandermonde(double[] rks, int n) {
        double[][] r = new double[n][n];
        for (int row = 0; row < n; row++) {
            for (int c = 0; c < n; c++) {
                r[row][c] = Math.pow(rks[c], row);
            }
        }
        return r;
    }

    /** Solves a small dense system by Gaussian elimination with partial pivoting. */
    private static double[] solve(double[][] a, double[] b) {
        int n = b.length;
        double[][] m = new double[n][];
        for (int i = 0; i < n; i++) {
            m[i] = Arrays.copyOf(a[i], n + 1);
            m[i][n] = b[i];
        }
        for (int col = 0; col < n; col++) {
            int piv = col;
            for (int r = col + 1; r < n; r++) {
                if (Math.abs(m[r][col]) > Math.abs(m[piv][col])) {
                    piv = r;
                }
            }
            double[] tmp = m[col];
            m[col] = m[piv];
            m[piv] = tmp;
            for (int r = col + 1; r < n; r++) {
                double f = m[r][col] / m[col][col];
                for (int c = col; c <= n; c++) {
                    m[r][c] -= f * m[col][c];
                }
            }
        }
        double[] x = new double[n];
        for (int r = n - 1; r >= 0; r--) {
            double s = m[r][n];
            for (int c = r + 1; c < n; c++) {
                s -= m[r][c] * x[c];
            }
            x[r] = s / m[r][r];
        }
        return x;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int stepIndex) {
        checkStep(stepIndex, original);
        checkSame(noise, original);
        return DpmMath.addNoise(original, noise, sigmas[stepIndex]);
    }
}
