// A scheduler option (a from_config key or a step() argument) that cannot take effect: unknown to the
// chosen scheduler, fixed by the choice of scheduler, or of the wrong type. Carries the key so a
// caller can name the flag or file it came from.
package dev.ldm4j.diffusion.schedulers;

public final class SchedulerOptionException extends IllegalArgumentException {
    private final String key;

    public SchedulerOptionException(String key, String message) {
        super(message);
        this.key = key;
    }

    /** The option's key as given. */
    public String key() {
        return key;
    }
}
