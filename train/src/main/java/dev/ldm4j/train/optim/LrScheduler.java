// The stateful half of a learning-rate schedule, as torch's LambdaLR: a base learning rate, a
// schedule and a position. lr() = base_lr * schedule.factor(position); step() advances the position
// after each optimizer step, as diffusers' loops call lr_scheduler.step() after optimizer.step().
// The position starts at 0 (LambdaLR's construction already takes its first step from -1 to 0).
package dev.ldm4j.train.optim;

public final class LrScheduler {
    private final LrSchedule schedule;
    private final double baseLr;
    private long position;

    /** A scheduler at position 0, as a freshly built LambdaLR. */
    public LrScheduler(LrSchedule schedule, double baseLr) {
        this(schedule, baseLr, 0);
    }

    /** A scheduler at a given position, e.g. restored from a checkpoint. */
    public LrScheduler(LrSchedule schedule, double baseLr, long position) {
        if (!(baseLr >= 0)) {
            throw new IllegalArgumentException("base learning rate " + baseLr + " must be a non-negative number");
        }
        if (position < 0) {
            throw new IllegalArgumentException("lr scheduler position " + position + " is negative");
        }
        this.schedule = schedule;
        this.baseLr = baseLr;
        this.position = position;
    }

    /** The learning rate for the next optimizer step (torch: param_group["lr"]). */
    public double lr() {
        return baseLr * schedule.factor(position);
    }

    /** Advances one position (torch: lr_scheduler.step()). */
    public void step() {
        position++;
    }

    /** LambdaLR's last_epoch: the number of step() calls so far. */
    public long position() {
        return position;
    }

    public LrSchedule schedule() {
        return schedule;
    }

    public double baseLr() {
        return baseLr;
    }
}
