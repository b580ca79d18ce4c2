// A NoiseSource that hands out recorded draws (e.g. a fixture's latents0 and scheduler noise) in
// order, checking that each request has the recorded shape, so a pipeline run can be compared step
// by step with the reference that recorded them.
package dev.ldm4j.diffusion.random;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

public final class ReplayNoise implements NoiseSource {
    private record Draw(int[] shape, float[] values) {
    }

    private final List<Draw> draws = new ArrayList<>();
    private int next;

    /** Appends one recorded draw; values are row-major with numel(shape) elements. */
    public ReplayNoise add(float[] values, int... shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (n != values.length) {
            throw new IllegalArgumentException("recorded draw of shape " + Arrays.toString(shape) + " needs " + n + " values, got " + values.length);
        }
        draws.add(new Draw(shape.clone(), values.clone()));
        return this;
    }

    @Override
    public float[] randn(int... shape) {
        if (next >= draws.size()) {
            throw new IllegalStateException("noise draw " + (next + 1) + " of shape " + Arrays.toString(shape) + " requested, but only " + draws.size() + " were recorded");
        }
        Draw d = draws.get(next);
        if (!Arrays.equals(d.shape, shape)) {
            throw new IllegalStateException("noise draw " + (next + 1) + " requested with shape " + Arrays.toString(shape) + ", recorded shape is " + Arrays.toString(d.shape));
        }
        next++;
        return d.values.clone();
    }

    /** How many recorded draws have been handed out. */
    public int used() {
        return next;
    }

    /** How many draws were recorded. */
    public int recorded() {
        return draws.size();
    }
}
