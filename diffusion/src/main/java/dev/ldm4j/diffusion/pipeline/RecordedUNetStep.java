// The U-Net call of each denoising step, optionally recorded once and replayed (a CUDA graph on the
// GPU, Backend.record). The pipeline calls forward(step, x, tProj) where it would call
// unet.forwardProjected; this class keeps the backend concern out of the sampling loop: it records the
// first step's call (when a later step will use it), checks one replay against the op-by-op result, replays
// it for the later steps, and falls back to running op by op when recording is unavailable, fails, differs
// or a replay fails. status() says which happened.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Recording;
import dev.ldm4j.tensor.Tensor;

final class RecordedUNetStep implements AutoCloseable {
    private final Backend backend;
    private final UNet2DConditionModel unet;
    private final Tensor context;
    private final Tensor condContext;
    private final Tensor guidanceCond;
    private final int total;
    private boolean toRecord;
    private Recording recording;
    private int replayed;
    private String status;

    /**
     * The U-Net call over a fixed context (and guidance embedding, null unless LCM) for total steps;
     * with record, the first step's call is recorded and replayed for the rest. condContext is the
     * conditional rows of context for the steps that skip guidance (null when none do).
     */
    RecordedUNetStep(Backend backend, UNet2DConditionModel unet, Tensor context, Tensor condContext, Tensor guidanceCond,
                     boolean record, int total) {
        this.backend = backend;
        this.unet = unet;
        this.context = context;
        this.condContext = condContext;
        this.guidanceCond = guidanceCond;
        this.total = total;
        this.toRecord = record;
        this.status = record ? "step recording: not attempted (fewer than two steps)" : null;
    }

    /**
     * The U-Net's prediction for step (1-based, of total) on x [2B or B, 4, h, w] with time projection tProj;
     * conditionalOnly: x is [B, ...] and takes the conditional context (a step outside the guidance interval),
     * always op by op, since a recording holds the full batch's shapes.
     */
    Tensor forward(int step, Tensor x, Tensor tProj, boolean conditionalOnly) {
        if (conditionalOnly) {
            return unet.forwardProjected(x, tProj, condContext, guidanceCond);
        }
        Tensor out = null;
        if (recording != null) {
            try {
                out = recording.run(x, tProj);
                replayed++;
            } catch (RuntimeException e) {
                status = "step recording: replay failed at step " + step + " (" + e.getMessage()
                        + ") after " + replayed + " replays; the remaining steps ran op by op";
                Recording failed = recording;
                recording = null;
                try {
                    failed.close();
                } catch (RuntimeException closing) {
                    e.addSuppressed(closing);
                }
            }
        }
        if (out == null) {
            out = unet.forwardProjected(x, tProj, context, guidanceCond);
            if (toRecord && step < total) {
                toRecord = false;
                recording = record(x, tProj, out);
            }
        }
        return out;
    }

    /** What recording did so far (null when it was off); final after close(). */
    String status() {
        return status;
    }

    /** Frees the recording, if one is still in use. */
    @Override
    public void close() {
        if (recording != null) {
            recording.close();
            recording = null;
            status = "step recording: the U-Net call was recorded once and replayed for " + replayed + " of " + total + " steps";
        }
    }

    /**
     * Records unet.forwardProjected over (x, tProj) and replays it once on the same inputs; keeps the
     * recording only when that replay matches the op-by-op result eager (same kernels on the same
     * inputs, so it should agree to the last bit; 1e-6 of the largest value is allowed).
     */
    private Recording record(Tensor x, Tensor tProj, Tensor eager) {
        Recording r;
        try {
            r = backend.record(in -> unet.forwardProjected(in[0], in[1], context, guidanceCond), x, tProj);
        } catch (RuntimeException e) {
            status = "step recording failed (" + e.getMessage() + "); every step ran op by op";
            return null;
        }
        if (r == null) {
            status = "step recording is not available on the " + backend.name() + " backend; every step ran op by op";
            return null;
        }
        float[] want = backend.toHost(eager).data();
        float[] got = backend.toHost(r.run(x, tProj)).data();
        double diff = 0, largest = 0;
        for (int k = 0; k < want.length; k++) {
            diff = Math.max(diff, Math.abs((double) got[k] - want[k]));
            largest = Math.max(largest, Math.abs(want[k]));
        }
        if (!(diff <= 1e-6 * largest)) {
            r.close();
            status = String.format("step recording discarded: its replay differed from the op-by-op step by up to %.3g"
                    + " (largest value %.3g); every step ran op by op", diff, largest);
            return null;
        }
        return r;
    }
}
