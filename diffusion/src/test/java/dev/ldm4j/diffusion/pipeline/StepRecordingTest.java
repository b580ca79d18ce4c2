// The pipeline's step recording (StableDiffusionPipeline.setStepRecording) on the tiny SD 1.x model,
// with CPU backends that stand in for a recording device: one whose recording replays honestly (the
// image must equal the op-by-op image exactly, with the call replayed for every step after the first),
// one whose replay is off by 0.1% (the pipeline must notice on its first replay, discard it and still
// give the op-by-op image), one whose replay fails mid-run (the rest runs op by op), and the plain CPU
// backend, which cannot record.
package dev.ldm4j.diffusion.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.Recording;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class StepRecordingTest {
    private static final GenerationRequest REQUEST = GenerationRequest.textToImage("a lighthouse at dusk").withSteps(4).withSize(128, 128)
            .withGuidanceScale(7.5).withScheduler("euler_a", false).withSeed(7);

    /** The CPU backend, with record() answered by a recording that re-runs body on its inputs, scaled by outScale. */
    private static Backend recordingCpu(Backend cpu, float outScale, AtomicInteger replays) {
        return recordingCpu(cpu, outScale, replays, Integer.MAX_VALUE);
    }

    /** As above; the replay numbered failAt (1-based) throws, as a device error would. */
    private static Backend recordingCpu(Backend cpu, float outScale, AtomicInteger replays, int failAt) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (proxy, method, args) -> {
            if (method.getName().equals("record")) {
                @SuppressWarnings("unchecked")
                Function<Tensor[], Tensor> body = (Function<Tensor[], Tensor>) args[0];
                return new Recording() {
                    @Override
                    public Tensor run(Tensor... inputs) {
                        if (replays.incrementAndGet() == failAt) {
                            throw new IllegalStateException("replay " + failAt + " failed");
                        }
                        return cpu.scale(body.apply(inputs.clone()), outScale);
                    }

                    @Override
                    public void close() {
                    }
                };
            }
            try {
                return method.invoke(cpu, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    private static float[] image(Backend b, boolean record, String[] status) {
        Path dir = SharedFixtures.conformance().resolve("sd1-tiny");
        try (StableDiffusionPipeline p = StableDiffusionPipeline.load(dir, null, null, b)) {
            p.setStepRecording(record);
            GenerationResult r = p.generate(REQUEST, StepListener.NONE);
            status[0] = p.recordingStatus();
            return r.images().get(0).data();
        }
    }

    @Test
    void anHonestRecordingIsReplayedForEveryLaterStepAndGivesTheSameImage() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        Backend cpu = Backends.create("cpu");
        String[] status = new String[1];
        float[] plain = image(cpu, false, status);
        assertNull(status[0], "no status when recording is off");
        AtomicInteger replays = new AtomicInteger();
        float[] recorded = image(recordingCpu(cpu, 1.0f, replays), true, status);
        assertArrayEquals(plain, recorded, "image with the step recorded and replayed");
        assertEquals(4, replays.get(), "one check replay on step 1, then steps 2..4");
        assertTrue(status[0].contains("replayed for 3 of 4 steps"), status[0]);
    }

    @Test
    void aReplayThatDiffersIsDiscardedAndTheStepsRunOpByOp() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        Backend cpu = Backends.create("cpu");
        String[] status = new String[1];
        float[] plain = image(cpu, false, status);
        AtomicInteger replays = new AtomicInteger();
        float[] recorded = image(recordingCpu(cpu, 1.001f, replays), true, status);
        assertArrayEquals(plain, recorded, "image after the recording was discarded");
        assertEquals(1, replays.get(), "only the check replay ran");
        assertTrue(status[0].startsWith("step recording discarded"), status[0]);
    }

    @Test
    void aReplayThatFailsMidRunHandsTheRemainingStepsToOpByOp() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        Backend cpu = Backends.create("cpu");
        String[] status = new String[1];
        float[] plain = image(cpu, false, status);
        AtomicInteger replays = new AtomicInteger();
        float[] recorded = image(recordingCpu(cpu, 1.0f, replays, 3), true, status);
        assertArrayEquals(plain, recorded, "image after a failed replay at step 3");
        assertTrue(status[0].contains("replay failed at step 3"), status[0]);
    }

    @Test
    void theCpuBackendCannotRecordAndSaysSo() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        String[] status = new String[1];
        image(Backends.create("cpu"), true, status);
        assertTrue(status[0].contains("not available on the cpu backend"), status[0]);
    }
}
