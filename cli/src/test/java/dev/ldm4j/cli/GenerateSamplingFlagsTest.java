// generate's sampling switches (--guidance-rescale, --guidance-interval, --sigmas, --timesteps, --dynamic-threshold):
// bad values refused in one line naming the flag and value before the model loads, a scheduler that cannot take a
// switch refused by name, and each switch written into the PNG and run again from it byte for byte.
package dev.ldm4j.cli;

import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static dev.ldm4j.cli.CliTest.assertOneLineError;
import static dev.ldm4j.cli.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class GenerateSamplingFlagsTest {
    /** A run with these flags on a folder that is no model: a flag check that passed would fail on the model instead. */
    static CliTest.Result notAModel(Path dir, String... flags) {
        String[] base = {"generate", "--model", dir.toString(), "--prompt", "x", "--output", dir.resolve("o.png").toString()};
        String[] all = new String[base.length + flags.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(flags, 0, all, base.length, flags.length);
        return run(all);
    }

    @Test
    void badValuesAreRefusedInOneLineNamingFlagAndValue(@TempDir Path dir) {
        assertOneLineError(notAModel(dir, "--guidance-rescale", "1.5"), "--guidance-rescale must be in [0, 1], got 1.5");
        assertOneLineError(notAModel(dir, "--guidance-interval", "2"), "--guidance-interval must be LO,HI (two sigmas, e.g. 0.28,5.42), got '2'");
        assertOneLineError(notAModel(dir, "--guidance-interval", "1,x"), "--guidance-interval: 'x' is not a number (in '1,x')");
        assertOneLineError(notAModel(dir, "--guidance-interval", "3,1"), "--guidance-interval needs 0 <= LO <= HI, got '3,1'");
        assertOneLineError(notAModel(dir, "--sigmas", "3,x,0"), "--sigmas: 'x' is not a number (in '3,x,0')");
        assertOneLineError(notAModel(dir, "--sigmas", "3"), "--sigmas: sigmas need at least 2 values, got 1 (in '3')");
        assertOneLineError(notAModel(dir, "--sigmas", "1,2,0"), "--sigmas: sigmas must be strictly decreasing, got 1.0 then 2.0 (in '1,2,0')");
        assertOneLineError(notAModel(dir, "--timesteps", "900,-1"), "--timesteps: timesteps must be finite and >= 0, got -1.0");
        assertOneLineError(notAModel(dir, "--timesteps", "ays", "--sigmas", "ays"), "--sigmas and --timesteps: give one");
        assertOneLineError(notAModel(dir, "--sigmas", "ays", "--steps", "20"), "--steps and --sigmas: give one");
        assertOneLineError(notAModel(dir, "--dynamic-threshold", "0"), "--dynamic-threshold: RATIO must be in (0, 1], got '0'");
        assertOneLineError(notAModel(dir, "--dynamic-threshold", "0.9:0.5"), "--dynamic-threshold: MAX must be a finite number >= 1, got '0.9:0.5'");
        assertOneLineError(notAModel(dir, "--dynamic-threshold", "0.9:2:3"), "--dynamic-threshold must be RATIO or RATIO:MAX");
    }

    private static String tiny() {
        assumeTrue(SharedFixtures.available(), "../shared is absent");
        return SharedFixtures.conformance().resolve("sd1-tiny").toString();
    }

    @Test
    void aSchedulerThatCannotTakeASwitchIsRefusedByName(@TempDir Path dir) {
        String model = tiny();
        String out = dir.resolve("o.png").toString();
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--output", out, "--scheduler", "ddim", "--sigmas", "ays"),
                "--sigmas: custom sigmas is not an argument of DDIMScheduler.set_timesteps in diffusers 0.31; schedulers that take them: euler");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--output", out, "--scheduler", "euler_a", "--timesteps", "ays"),
                "--timesteps: custom timesteps is not an argument of EulerAncestralDiscreteScheduler");
        assertOneLineError(run("generate", "--model", model, "--prompt", "x", "--output", out, "--scheduler", "euler", "--dynamic-threshold", "0.99:4"),
                "--dynamic-threshold: EulerDiscreteScheduler has no thresholding in diffusers; use ddpm, ddim");
    }

    @Test
    void guidanceSwitchesAndAysSigmasRoundTripThroughThePng(@TempDir Path dir) throws IOException {
        tiny();
        GenerateFromPngTest.roundTrip(dir, "--prompt", "a red apple", "--width", "64", "--height", "64", "--seed", "5",
                "--scheduler", "euler", "--sigmas", "ays", "--guidance-rescale", "0.7", "--guidance-interval", "0.5,inf");
        String p = GenerateFromPngTest.parameters(dir.resolve("first.png"));
        assertTrue(p.contains("Steps: 10, ") && p.contains(", Guidance rescale: 0.7, Guidance interval: \"0.5,inf\", Sigmas: ays, Version: "), p);
    }

    @Test
    void dynamicThresholdAndCustomTimestepsRoundTripThroughThePng(@TempDir Path dir) throws IOException {
        tiny();
        GenerateFromPngTest.roundTrip(dir, "--prompt", "a red apple", "--width", "64", "--height", "64", "--seed", "6",
                "--scheduler", "ddpm", "--timesteps", "999,600,300,50", "--dynamic-threshold", "0.995:4");
        String p = GenerateFromPngTest.parameters(dir.resolve("first.png"));
        assertTrue(p.contains("Steps: 4, ") && p.contains("Scheduler option thresholding: true, Scheduler option dynamic_thresholding_ratio: 0.995,"
                + " Scheduler option sample_max_value: 4") && p.contains("Timesteps: \"999,600,300,50\""), p);
    }
}
