// The inference schedule of the k-diffusion family (Euler, Heun, LMS, KDPM2...): timesteps spaced
// over the train range, their noise levels sigma interpolated from the train sigmas, or the Karras
// et al. 2022 schedule with each sigma mapped back to a (fractional) timestep.
package dev.ldm4j.diffusion.schedulers;

record SigmaSchedule(double[] timesteps, double[] sigmas, float[] logTrainSigmas) {

    /**
     * @param karras          use the Karras sigmas (use_karras_sigmas)
     * @param roundKarrasT    round the timesteps of Karras sigmas to integers (KDPM2 does, Euler does not)
     */
    static SigmaSchedule of(SchedulerConfig c, float[] alphasCumprod, int steps, boolean karras, boolean roundKarrasT) {
        double[] t = NoiseSchedule.spacedTimesteps(c, steps, false);
        float[] train = NoiseSchedule.trainSigmas(alphasCumprod);
        float[] logTrain = NoiseSchedule.logOf(train);
        double[] s = new double[t.length];
        for (int i = 0; i < t.length; i++) {
            s[i] = NoiseSchedule.interp(t[i], train);
        }
        if (karras) {
            double sigmaMin = c.has("sigma_min") ? c.getOptionalDouble("sigma_min") : Double.NaN;
            double sigmaMax = c.has("sigma_max") ? c.getOptionalDouble("sigma_max") : Double.NaN;
            s = NoiseSchedule.karrasSigmas(Double.isNaN(sigmaMin) ? s[s.length - 1] : sigmaMin,
                    Double.isNaN(sigmaMax) ? s[0] : sigmaMax, steps);
            t = new double[s.length];
            for (int i = 0; i < s.length; i++) {
                double ti = NoiseSchedule.sigmaToT(s[i], logTrain);
                t[i] = roundKarrasT ? Math.rint(ti) : (float) ti;
            }
        }
        return new SigmaSchedule(t, s, logTrain);
    }

    /**
     * The integer schedule of the DPM-Solver family (DPM-Solver, UniPC, DEIS): steps + 1 points over
     * [0, lastTimestep) with the last dropped, so the final step lands on the final sigma rather than
     * on timestep 0. With Karras sigmas, the sigma range of the train schedule is resampled and
     * each sigma mapped to its nearest integer timestep.
     */
    static SigmaSchedule dpm(SchedulerConfig c, float[] alphasCumprod, int steps, int lastTimestep, boolean karras) {
        int n = c.getInt("num_train_timesteps");
        String spacing = c.has("timestep_spacing") ? c.getChoice("timestep_spacing", "linspace", "leading", "trailing") : "linspace";
        double[] t;
        switch (spacing) {
            case "linspace" -> {
                double[] l = NoiseSchedule.npLinspace(0, lastTimestep - 1, steps + 1);
                t = new double[steps];
                for (int i = 0; i < steps; i++) {
                    t[i] = Math.rint(l[steps - i]);
                }
            }
            case "leading" -> {
                int ratio = lastTimestep / (steps + 1);
                int offset = c.getInt("steps_offset");
                t = new double[steps];
                for (int i = 0; i < steps; i++) {
                    t[i] = (double) (steps - i) * ratio + offset;
                }
            }
            default -> {
                t = NoiseSchedule.npArange(lastTimestep, 0, -(double) n / steps);
                for (int i = 0; i < t.length; i++) {
                    t[i] = Math.rint(t[i]) - 1;
                }
            }
        }
        float[] train = NoiseSchedule.trainSigmas(alphasCumprod);
        float[] logTrain = NoiseSchedule.logOf(train);
        double[] s;
        if (karras) {
            double sigmaMin = c.has("sigma_min") ? c.getOptionalDouble("sigma_min") : Double.NaN;
            double sigmaMax = c.has("sigma_max") ? c.getOptionalDouble("sigma_max") : Double.NaN;
            s = NoiseSchedule.karrasSigmas(Double.isNaN(sigmaMin) ? train[0] : sigmaMin,
                    Double.isNaN(sigmaMax) ? train[n - 1] : sigmaMax, steps);
            t = new double[s.length];
            for (int i = 0; i < s.length; i++) {
                t[i] = Math.rint(NoiseSchedule.sigmaToT(s[i], logTrain));
            }
        } else {
            s = new double[t.length];
            for (int i = 0; i < t.length; i++) {
                s[i] = NoiseSchedule.interp(t[i], train);
            }
        }
        return new SigmaSchedule(t, s, logTrain);
    }

    /** Given timesteps (diffusers' set_timesteps(timesteps=...)) with their sigmas interpolated from the train sigmas. */
    static SigmaSchedule atTimesteps(double[] t, float[] alphasCumprod) {
        float[] train = NoiseSchedule.trainSigmas(alphasCumprod);
        double[] s = new double[t.length];
        for (int i = 0; i < t.length; i++) {
            s[i] = NoiseSchedule.interp(t[i], train);
        }
        return new SigmaSchedule(t.clone(), s, NoiseSchedule.logOf(train));
    }

    /** The sigmas as float32 with a final value appended (diffusers' concatenate(...).astype(float32)). */
    double[] withFinal(double finalSigma) {
        double[] out = new double[sigmas.length + 1];
        for (int i = 0; i < sigmas.length; i++) {
            out[i] = (float) sigmas[i];
        }
        out[sigmas.length] = (float) finalSigma;
        return out;
    }

    /**
     * init_noise_sigma of the k-diffusion schedulers: the largest sigma for "linspace"/"trailing"
     * spacing, sqrt(sigma_max^2 + 1) for "leading" (float32, as diffusers computes it).
     */
    static double initNoiseSigma(SchedulerConfig c, double[] sigmas) {
        float max = (float) NoiseSchedule.max(sigmas);
        String spacing = c.getString("timestep_spacing");
        if (spacing.equals("linspace") || spacing.equals("trailing")) {
            return max;
        }
        return (float) Math.sqrt(max * max + 1f);
    }
}
