// Pseudo Numerical methods for Diffusion Models (Liu, Ren, Lin & Zhao 2022): a linear multistep
// (PLMS, up to 4th-order Adams-Bashforth) update on the DDIM transfer function phi of eq. 11.
// With skip_prk_steps (every Stable Diffusion config) the Runge-Kutta warm-up is replaced by the
// 2nd-order pseudo-improved-Euler step that repeats the second timestep. Mirrors diffusers' PNDMScheduler.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.diffusion.random.NoiseSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public final class PNDMScheduler extends BaseScheduler {
    public static Map<String, Object> defaults() {
        Map<String, Object> d = NoiseSchedule.trainDefaults(0.0001, 0.02, "linear");
        d.put("skip_prk_steps", false);
        d.put("set_alpha_to_one", false);
        d.put("prediction_type", "epsilon");
        d.put("timestep_spacing", "leading");
        d.put("steps_offset", 0L);
        return d;
    }

    private static final int PNDM_ORDER = 4;

    private final String predictionType;
    private final boolean skipPrk;
    private final double finalAlphaCumprod;
    private int prkCount;

    // Multistep state (reset by setTimesteps).
    private final List<float[]> ets = new ArrayList<>();
    private int counter;
    private float[] curSample;
    private double[] curModelOutput;

    public PNDMScheduler(Map<String, Object> config) {
        this(new SchedulerConfig("PNDMScheduler", defaults(), config));
    }

    public PNDMScheduler(SchedulerConfig config) {
        super(config);
        predictionType = config.getChoice("prediction_type", "epsilon", "v_prediction");
        skipPrk = config.getBoolean("skip_prk_steps");
        finalAlphaCumprod = finalAlphaCumprod();
    }

    @Override
    public void setTimesteps(int steps) {
        checkSteps(steps);
        // ascending: t_0 < t_1 < ... < t_{n-1}
        double[] base = NoiseSchedule.reversed(NoiseSchedule.spacedTimesteps(config, steps, true));
        int n = base.length;
        List<Double> all = new ArrayList<>();
        if (skipPrk) {
            // plms = reverse(concat(base[:-1], base[-2:-1], base[-1:])): the second timestep repeats.
            List<Double> plms = new ArrayList<>();
            for (int i = 0; i < n - 1; i++) {
                plms.add(base[i]);
            }
            if (n >= 2) {
                plms.add(base[n - 2]);
            }
            plms.add(base[n - 1]);
            for (int i = plms.size() - 1; i >= 0; i--) {
                all.add(plms.get(i));
            }
            prkCount = 0;
        } else {
            if (n < PNDM_ORDER) {
                throw new IllegalArgumentException(name() + ": the Runge-Kutta warm-up (skip_prk_steps = false) needs at least 4 steps, got " + steps);
            }
            // Runge-Kutta warm-up on the last three intervals: t, t - h/2, t - h/2, t - h for each.
            int half = numTrainTimesteps / steps / 2;
            double[] prk = new double[2 * PNDM_ORDER];
            for (int k = 0; k < PNDM_ORDER; k++) {
                double t = base[n - PNDM_ORDER + k];
                prk[2 * k] = t;
                prk[2 * k + 1] = t + half;
            }
            // (prk[:-1].repeat(2)[1:-1])[::-1]
            List<Double> rep = new ArrayList<>();
            for (int i = 0; i < prk.length - 1; i++) {
                rep.add(prk[i]);
                rep.add(prk[i]);
            }
            List<Double> trimmed = rep.subList(1, rep.size() - 1);
            for (int i = trimmed.size() - 1; i >= 0; i--) {
                all.add(trimmed.get(i));
            }
            prkCount = all.size();
            for (int i = n - 4; i >= 0; i--) { // then PLMS over base[:-3], descending
                all.add(base[i]);
            }
        }
        timesteps = all.stream().mapToDouble(Double::doubleValue).toArray();
        ets.clear();
        counter = 0;
        curSample = null;
        curModelOutput = null;
    }

    @Override
    public float[] step(float[] modelOutput, int stepIndex, float[] sample, int[] shape, NoiseSource noise) {
        checkStep(stepIndex, sample);
        checkSame(modelOutput, sample);
        double t = timesteps[stepIndex];
        return counter < prkCount ? stepPrk(modelOutput, t, sample) : stepPlms(modelOutput, t, sample);
    }

    /** Fourth-order Runge-Kutta on the transfer function (PNDM paper, eq. 13), one stage per call. */
    private float[] stepPrk(float[] modelOutput, double t, float[] sample) {
        int h = numTrainTimesteps / numInferenceSteps;
        double diffToPrev = counter % 2 == 1 ? 0 : h / 2;
        double prevT = t - diffToPrev;
        double stageT = timesteps[counter / 4 * 4];
        if (curModelOutput == null) {
            curModelOutput = new double[sample.length];
        }
        double[] e;
        switch (counter % 4) {
            case 0 -> {
                accumulate(modelOutput, 1.0 / 6);
                ets.add(modelOutput.clone());
                curSample = sample;
                e = toDouble(modelOutput);
            }
            case 1, 2 -> {
                accumulate(modelOutput, 1.0 / 3);
                e = toDouble(modelOutput);
            }
            default -> {
                e = new double[sample.length];
                for (int i = 0; i < e.length; i++) {
                    e[i] = curModelOutput[i] + modelOutput[i] / 6.0;
                }
                curModelOutput = new double[sample.length];
            }
        }
        float[] from = curSample != null ? curSample : sample;
        counter++;
        return prevSample(from, stageT, prevT, e);
    }

    private void accumulate(float[] m, double w) {
        for (int i = 0; i < m.length; i++) {
            curModelOutput[i] += w * m[i];
        }
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i];
        }
        return d;
    }

    /** Linear multistep (PNDM paper, eq. 12), warming up through orders 1..4 as diffusers does. */
    private float[] stepPlms(float[] modelOutput, double t, float[] sample) {
        int h = numTrainTimesteps / numInferenceSteps;
        double prevT = t - h;
        if (counter != 1) {
            while (ets.size() > 3) {
                ets.remove(0);
            }
            ets.add(modelOutput.clone());
        } else {
            // The repeated second timestep: redo the first interval with the averaged slope.
            prevT = t;
            t = t + h;
        }
        int n = ets.size();
        double[] e = new double[sample.length];
        float[] from = sample;
        for (int i = 0; i < e.length; i++) {
            e[i] = switch (n) {
                case 1 -> counter == 0 ? modelOutput[i] : (modelOutput[i] + (double) ets.get(0)[i]) / 2;
                case 2 -> (3.0 * ets.get(1)[i] - ets.get(0)[i]) / 2;
                case 3 -> (23.0 * ets.get(2)[i] - 16.0 * ets.get(1)[i] + 5.0 * ets.get(0)[i]) / 12;
                default -> (55.0 * ets.get(3)[i] - 59.0 * ets.get(2)[i] + 37.0 * ets.get(1)[i] - 9.0 * ets.get(0)[i]) / 24;
            };
        }
        if (n == 1 && counter == 0) {
            curSample = sample;
        } else if (n == 1 && counter == 1) {
            from = curSample;
            curSample = null;
        }
        counter++;
        return prevSample(from, t, prevT, e);
    }

    /**
     * The transfer function phi(x_t, e_t, t, t - delta) of PNDM eq. 11: the DDIM step written as
     * x_prev = sqrt(a_prev / a_t) x_t - (a_prev - a_t) e / (a_t sqrt(1 - a_prev) + sqrt(a_t (1 - a_t) a_prev)).
     */
    private float[] prevSample(float[] sample, double t, double prevT, double[] e) {
        double aT = alphaBar(t);
        double aPrev = prevT >= 0 ? alphaBar(prevT) : finalAlphaCumprod;
        double bT = 1 - aT;
        double bPrev = 1 - aPrev;
        double sampleCoeff = Math.sqrt(aPrev / aT);
        double denom = aT * Math.sqrt(bPrev) + Math.sqrt(aT * bT * aPrev);
        boolean v = predictionType.equals("v_prediction");
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            double eps = v ? Math.sqrt(aT) * e[i] + Math.sqrt(bT) * sample[i] : e[i];
            out[i] = (float) (sampleCoeff * sample[i] - (aPrev - aT) * eps / denom);
        }
        return out;
    }

    @Override
    public float[] addNoise(float[] original, float[] noise, int stepIndex) {
        checkStep(stepIndex, original);
        return addNoiseAlphaBar(original, noise, timesteps[stepIndex]);
    }
}
