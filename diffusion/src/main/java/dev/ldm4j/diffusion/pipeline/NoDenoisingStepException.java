// An image-to-image request whose strength and step count leave no step to run: diffusers' get_timesteps
// runs int(steps * strength) of the steps, and that is 0. Carries both numbers so a caller can say which of
// its settings (flags) to raise.
package dev.ldm4j.diffusion.pipeline;

public final class NoDenoisingStepException extends IllegalArgumentException {
    private final double strength;
    private final int steps;

    public NoDenoisingStepException(double strength, int steps) {
        super("strength " + strength + " with " + steps + " steps leaves no denoising step (int(steps * strength) = 0)");
        this.strength = strength;
        this.steps = steps;
    }

    public double strength() {
        return strength;
    }

    public int steps() {
        return steps;
    }
}
