// A custom schedule (timesteps or sigmas given by hand) that the chosen scheduler cannot take; kind() says
// which argument, so the command line can name its flag.
package dev.ldm4j.diffusion.schedulers;

public final class CustomScheduleException extends IllegalArgumentException {
    private final CustomSchedule.Kind kind;

    public CustomScheduleException(CustomSchedule.Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public CustomSchedule.Kind kind() {
        return kind;
    }
}
