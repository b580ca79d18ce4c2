// The four schedules against their formulas (diffusers' get_scheduler) at chosen positions, and the
// scheduler's position and lr as LambdaLR keeps them.
package dev.ldm4j.train.optim;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LrScheduleTest {
    private static final int WARMUP = 10;
    private static final int TOTAL = 110;

    @Test
    void constantIsOneEverywhere() {
        LrSchedule s = LrSchedule.get("constant", WARMUP, TOTAL);
        for (long step : new long[] {0, 1, 9, 10, 500}) {
            assertEquals(1.0, s.factor(step), 0.0);
        }
    }

    @Test
    void constantWithWarmupRisesLinearlyThenHolds() {
        LrSchedule s = LrSchedule.get("constant_with_warmup", WARMUP, TOTAL);
        assertEquals(0.0, s.factor(0), 0.0);
        assertEquals(0.3, s.factor(3), 1e-15);
        assertEquals(0.9, s.factor(9), 1e-15);
        assertEquals(1.0, s.factor(10), 0.0);
        assertEquals(1.0, s.factor(1000), 0.0);
    }

    @Test
    void linearWarmsUpThenDecaysToZeroAtTheLastStep() {
        LrSchedule s = LrSchedule.get("linear", WARMUP, TOTAL);
        assertEquals(0.5, s.factor(5), 1e-15);
        assertEquals(1.0, s.factor(10), 0.0);
        assertEquals(0.75, s.factor(35), 1e-15); // (110 - 35) / 100
        assertEquals(0.01, s.factor(109), 1e-15);
        assertEquals(0.0, s.factor(110), 0.0);
        assertEquals(0.0, s.factor(200), 0.0);
    }

    @Test
    void cosineWarmsUpThenFollowsAHalfCosineToZero() {
        LrSchedule s = LrSchedule.get("cosine", WARMUP, TOTAL);
        assertEquals(0.2, s.factor(2), 1e-15);
        assertEquals(1.0, s.factor(10), 1e-15);
        assertEquals(0.5 * (1 + Math.cos(Math.PI * 0.25)), s.factor(35), 1e-15);
        assertEquals(0.5, s.factor(60), 1e-15);
        assertEquals(0.5 * (1 + Math.cos(Math.PI * 0.9)), s.factor(100), 1e-15);
        assertEquals(0.0, s.factor(110), 1e-15);
        // diffusers' formula past the end: the cosine comes back up (it is not clamped to 0)
        assertEquals(0.5 * (1 + Math.cos(Math.PI * 1.2)), s.factor(130), 1e-15);
    }

    @Test
    void noWarmupStartsAtTheFullRate() {
        assertEquals(1.0, LrSchedule.linear(0, 100).factor(0), 0.0);
        assertEquals(1.0, LrSchedule.cosine(0, 100).factor(0), 0.0);
        assertEquals(1.0, LrSchedule.constantWithWarmup(0).factor(0), 0.0);
    }

    @Test
    void schedulerStartsAtPositionZeroAndGivesBaseLrTimesTheFactor() {
        LrScheduler sched = new LrScheduler(LrSchedule.linear(WARMUP, TOTAL), 1e-4);
        assertEquals(0, sched.position());
        assertEquals(0.0, sched.lr(), 0.0, "the first optimizer step of a warmup runs at lr 0, as with LambdaLR");
        for (int i = 0; i < 35; i++) {
            sched.step();
        }
        assertEquals(35, sched.position());
        assertEquals(1e-4 * 0.75, sched.lr(), 1e-19);
        assertEquals(sched.lr(), new LrScheduler(LrSchedule.linear(WARMUP, TOTAL), 1e-4, 35).lr(), 0.0);
    }

    @Test
    void unknownNameIsRefusedListingTheSupportedOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LrSchedule.get("polynomial", 0, 10));
        assertTrue(e.getMessage().contains("'polynomial'") && e.getMessage().contains("cosine"), e.getMessage());
    }
}
