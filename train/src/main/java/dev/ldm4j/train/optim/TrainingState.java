// Everything a training run needs to continue exactly where it was: the global step, the parameters,
// the optimizer (with its moments), the learning-rate scheduler's position, the EMA shadow if the
// run keeps one, and every random generator the run draws from, by name. The objects are the live
// ones the loop uses; TrainingCheckpoint saves them and builds new ones from a file.
package dev.ldm4j.train.optim;

import dev.ldm4j.diffusion.random.TorchGenerator;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * @param step       the number of completed optimizer steps (diffusers' global_step)
 * @param ema        null when the run keeps no EMA
 * @param generators the run's generators by name (e.g. "noise", "timesteps"), possibly none
 */
public record TrainingState(long step, TrainableParams params, AdamW optimizer, LrScheduler lrScheduler, EmaModel ema,
                            Map<String, TorchGenerator> generators) {
    public TrainingState {
        if (step < 0) {
            throw new IllegalArgumentException("training step " + step + " is negative");
        }
        if (params == null || optimizer == null || lrScheduler == null) {
            throw new IllegalArgumentException("a training state needs parameters, an optimizer and an lr scheduler");
        }
        if (optimizer.params() != params) {
            throw new IllegalArgumentException("the optimizer updates a different set of parameters than this state holds");
        }
        if (ema != null && ema.params() != params) {
            throw new IllegalArgumentException("the EMA follows a different set of parameters than this state holds");
        }
        for (String name : generators.keySet()) {
            if (name.isEmpty() || name.indexOf('\n') >= 0) {
                throw new IllegalArgumentException("generator name '" + name.replace("\n", "\\n") + "' is empty or has a line break");
            }
        }
        generators = Collections.unmodifiableMap(new TreeMap<>(generators));
    }
}
