// A training checkpoint that resumes bit for bit: one safetensors file in a directory, written to a
// temporary file and moved into place (SafetensorsWriter), so a crash never leaves a torn checkpoint.
//
// Tensors (all F32, each with its parameter's shape), grouped by kind, in name order:
//   param.<name>              the weights
//   adamw.exp_avg.<name>      AdamW's first moment m
//   adamw.exp_avg_sq.<name>   AdamW's second moment v
//   ema.<name>                the EMA shadow (only when the run keeps one)
// The safetensors "__metadata__" strings hold the rest (doubles in Java's shortest round-trip form):
//   format, step;
//   adamw.{lr, beta1, beta2, eps, weight_decay, step, no_weight_decay (names, one per line)};
//   lr_scheduler.{name, warmup_steps, training_steps, base_lr, position};
//   ema.{decay, min_decay, update_after_step, use_ema_warmup, inv_gamma, power, optimization_step};
//   generators (names, one per line), generator.<name>.{precision, position, cached_normal (the
//   double's 64 bits in hex, or "none"), mt19937 (the 624 state words, 8 hex digits each)}.
// Gradients are not saved: a checkpoint is taken between optimizer steps, and loading zeroes them.
//
// Reading is strict, like model loading: a missing, extra, mis-shaped or non-F32 tensor, or a missing
// or malformed metadata entry, is a CheckpointException of one line naming the file and the key.
package dev.ldm4j.train.optim;

import dev.ldm4j.diffusion.random.TorchGenerator;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.SafetensorsWriter;
import dev.ldm4j.weights.TensorInfo;
import dev.ldm4j.weights.WeightException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

public final class TrainingCheckpoint {
    /** The file a checkpoint directory holds. */
    public static final String FILE_NAME = "training_state.safetensors";
    /** The value of the "format" metadata entry this version writes and reads. */
    public static final String FORMAT = "ldm4j-training-checkpoint/1";

    private static final String PARAM = "param.";
    private static final String EXP_AVG = "adamw.exp_avg.";
    private static final String EXP_AVG_SQ = "adamw.exp_avg_sq.";
    private static final String EMA = "ema.";
    private static final int MT_WORDS = 624;

    private TrainingCheckpoint() {
    }

    /**
     * Writes state into dir (created if needed) as FILE_NAME, replacing an earlier checkpoint there
     * atomically. Returns the file written.
     */
    public static Path save(Path dir, TrainingState state) {
        Path file = dir.resolve(FILE_NAME);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new CheckpointException(dir + ": cannot create the checkpoint directory: " + e);
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (TrainableParams.Param p : state.params()) {
            tensors.put(PARAM + p.name(), Tensor.of(p.value(), p.shape()));
        }
        for (TrainableParams.Param p : state.params()) {
            tensors.put(EXP_AVG + p.name(), Tensor.of(state.optimizer().expAvg(p.name()), p.shape()));
        }
        for (TrainableParams.Param p : state.params()) {
            tensors.put(EXP_AVG_SQ + p.name(), Tensor.of(state.optimizer().expAvgSq(p.name()), p.shape()));
        }
        if (state.ema() != null) {
            for (TrainableParams.Param p : state.params()) {
                tensors.put(EMA + p.name(), Tensor.of(state.ema().shadow(p.name()), p.shape()));
            }
        }
        try {
            SafetensorsWriter.write(file, tensors, metadata(state), DType.F32, true);
        } catch (WeightException e) {
            throw new CheckpointException(e.getMessage(), e);
        }
        return file;
    }

    private static Map<String, String> metadata(TrainingState state) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("step", Long.toString(state.step()));
        AdamW.Hyperparameters h = state.optimizer().hyperparameters();
        m.put("adamw.lr", Double.toString(h.lr()));
        m.put("adamw.beta1", Double.toString(h.beta1()));
        m.put("adamw.beta2", Double.toString(h.beta2()));
        m.put("adamw.eps", Double.toString(h.eps()));
        m.put("adamw.weight_decay", Double.toString(h.weightDecay()));
        m.put("adamw.step", Long.toString(state.optimizer().stepCount()));
        m.put("adamw.no_weight_decay", String.join("\n", state.optimizer().noWeightDecay()));
        LrScheduler s = state.lrScheduler();
        m.put("lr_scheduler.name", s.schedule().name());
        m.put("lr_scheduler.warmup_steps", Integer.toString(s.schedule().warmupSteps()));
        m.put("lr_scheduler.training_steps", Integer.toString(s.schedule().trainingSteps()));
        m.put("lr_scheduler.base_lr", Double.toString(s.baseLr()));
        m.put("lr_scheduler.position", Long.toString(s.position()));
        if (state.ema() != null) {
            EmaModel.Config c = state.ema().config();
            m.put("ema.decay", Double.toString(c.decay()));
            m.put("ema.min_decay", Double.toString(c.minDecay()));
            m.put("ema.update_after_step", Long.toString(c.updateAfterStep()));
            m.put("ema.use_ema_warmup", Boolean.toString(c.useEmaWarmup()));
            m.put("ema.inv_gamma", Double.toString(c.invGamma()));
            m.put("ema.power", Double.toString(c.power()));
            m.put("ema.optimization_step", Long.toString(state.ema().optimizationStep()));
        }
        m.put("generators", String.join("\n", state.generators().keySet()));
        for (Map.Entry<String, TorchGenerator> e : state.generators().entrySet()) {
            TorchGenerator.State g = e.getValue().state();
            String key = "generator." + e.getKey() + ".";
            m.put(key + "precision", g.precision().name());
            m.put(key + "position", Integer.toString(g.position()));
            m.put(key + "cached_normal", g.hasCachedNormal() ? Long.toHexString(Double.doubleToRawLongBits(g.cachedNormal())) : "none");
            StringBuilder words = new StringBuilder(MT_WORDS * 8);
            for (int w : g.words()) {
                words.append(String.format("%08x", w));
            }
            m.put(key + "mt19937", words.toString());
        }
        return m;
    }

    /**
     * Reads the checkpoint in dir into the model's parameters (values copied into into's arrays,
     * gradients zeroed) and returns the state to continue from: a new optimizer, scheduler, EMA and
     * generators as they were saved. into must have exactly the checkpoint's parameter names and
     * shapes. Nothing is changed when the checkpoint is refused.
     */
    public static TrainingState load(Path dir, TrainableParams into) {
        Path file = dir.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException(file + ": no such file (is " + dir + " a training checkpoint directory?)");
        }
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return read(f, into);
        } catch (WeightException e) {
            throw new CheckpointException(e.getMessage(), e);
        }
    }

    private static TrainingState read(SafetensorsFile f, TrainableParams into) {
        String where = f.origin();
        Meta meta = new Meta(where, f.metadata());
        String format = meta.string("format");
        if (!format.equals(FORMAT)) {
            throw new CheckpointException(where + ": format '" + format + "' is not " + FORMAT);
        }
        boolean hasEma = f.metadata().containsKey("ema.decay");
        Set<String> expected = new HashSet<>();
        Map<String, float[]> values = readAll(f, into, PARAM, expected);
        Map<String, float[]> expAvg = readAll(f, into, EXP_AVG, expected);
        Map<String, float[]> expAvgSq = readAll(f, into, EXP_AVG_SQ, expected);
        Map<String, float[]> shadow = hasEma ? readAll(f, into, EMA, expected) : Map.of();
        for (String name : f.names()) {
            if (!expected.contains(name)) {
                throw new CheckpointException(where + ": tensor '" + name + "' belongs to no parameter of the model"
                        + (name.startsWith(EMA) ? " (or the checkpoint's metadata lacks the EMA settings)" : ""));
            }
        }

        long step = meta.nonNegativeLong("step");
        AdamW.Hyperparameters hyper;
        try {
            hyper = new AdamW.Hyperparameters(meta.number("adamw.lr"), meta.number("adamw.beta1"), meta.number("adamw.beta2"),
                    meta.number("adamw.eps"), meta.number("adamw.weight_decay"));
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(where + ": AdamW settings: " + e.getMessage());
        }
        long adamSteps = meta.nonNegativeLong("adamw.step");
        Set<String> noDecay = meta.names("adamw.no_weight_decay");
        for (String name : noDecay) {
            if (!into.contains(name)) {
                throw new CheckpointException(where + ": metadata 'adamw.no_weight_decay' names '" + name + "', which the model does not have");
            }
        }
        LrScheduler scheduler;
        try {
            LrSchedule schedule = LrSchedule.get(meta.string("lr_scheduler.name"), meta.nonNegativeInt("lr_scheduler.warmup_steps"),
                    meta.nonNegativeInt("lr_scheduler.training_steps"));
            scheduler = new LrScheduler(schedule, meta.number("lr_scheduler.base_lr"), meta.nonNegativeLong("lr_scheduler.position"));
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(where + ": lr scheduler: " + e.getMessage());
        }
        EmaModel.Config emaConfig = null;
        long emaSteps = 0;
        if (hasEma) {
            try {
                emaConfig = new EmaModel.Config(meta.number("ema.decay"), meta.number("ema.min_decay"),
                        meta.nonNegativeLong("ema.update_after_step"), meta.bool("ema.use_ema_warmup"), meta.number("ema.inv_gamma"),
                        meta.number("ema.power"));
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(where + ": EMA settings: " + e.getMessage());
            }
            emaSteps = meta.nonNegativeLong("ema.optimization_step");
        }
        Map<String, TorchGenerator.State> generatorStates = new TreeMap<>();
        for (String name : meta.names("generators")) {
            generatorStates.put(name, meta.generator(name));
        }

        // Everything checked: now change the model and build the rest.
        for (TrainableParams.Param p : into) {
            System.arraycopy(values.get(p.name()), 0, p.value(), 0, p.numel());
        }
        into.zeroGrad();
        AdamW optimizer = new AdamW(into, hyper, noDecay::contains);
        optimizer.restore(adamSteps, expAvg, expAvgSq);
        EmaModel ema = null;
        if (hasEma) {
            ema = new EmaModel(into, emaConfig);
            ema.restore(emaSteps, shadow);
        }
        Map<String, TorchGenerator> generators = new TreeMap<>();
        generatorStates.forEach((name, s) -> generators.put(name, TorchGenerator.restore(s)));
        return new TrainingState(step, into, optimizer, scheduler, ema, generators);
    }

    /** The tensors prefix + name for every parameter, checked (F32, the parameter's shape) and copied. */
    private static Map<String, float[]> readAll(SafetensorsFile f, TrainableParams into, String prefix, Set<String> expected) {
        Map<String, float[]> out = new HashMap<>();
        for (TrainableParams.Param p : into) {
            String key = prefix + p.name();
            expected.add(key);
            TensorInfo info = f.info(key);
            if (info == null) {
                throw new CheckpointException(f.origin() + ": missing tensor '" + key + "' (the model has parameter '" + p.name() + "')");
            }
            if (info.dtype() != DType.F32) {
                throw new CheckpointException(f.origin() + ": tensor '" + key + "' is " + info.dtype() + ", expected F32");
            }
            if (!Arrays.equals(info.shape(), p.shape())) {
                throw new CheckpointException(f.origin() + ": tensor '" + key + "' has shape " + Arrays.toString(info.shape())
                        + ", the model's parameter '" + p.name() + "' has " + Arrays.toString(p.shape()));
            }
            out.put(p.name(), f.tensor(key).toFloatArray());
        }
        return out;
    }

    /** Typed reads of the metadata strings, each failure naming the key. */
    private record Meta(String where, Map<String, String> entries) {
        String string(String key) {
            String v = entries.get(key);
            if (v == null) {
                throw new CheckpointException(where + ": metadata '" + key + "' is missing");
            }
            return v;
        }

        private CheckpointException malformed(String key, String v, String what) {
            String shown = v.length() > 40 ? v.substring(0, 40) + "..." : v;
            return new CheckpointException(where + ": metadata '" + key + "' is '" + shown.replace("\n", "\\n") + "', not " + what);
        }

        double number(String key) {
            String v = string(key);
            try {
                return Double.parseDouble(v);
            } catch (NumberFormatException e) {
                throw malformed(key, v, "a number");
            }
        }

        long nonNegativeLong(String key) {
            String v = string(key);
            try {
                long n = Long.parseLong(v);
                if (n >= 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw malformed(key, v, "a non-negative integer");
        }

        int nonNegativeInt(String key) {
            long n = nonNegativeLong(key);
            if (n > Integer.MAX_VALUE) {
                throw malformed(key, string(key), "an integer below 2^31");
            }
            return (int) n;
        }

        boolean bool(String key) {
            String v = string(key);
            return switch (v) {
                case "true" -> true;
                case "false" -> false;
                default -> throw malformed(key, v, "true or false");
            };
        }

        /** A list of names, one per line (empty string: none). */
        Set<String> names(String key) {
            String v = string(key);
            return v.isEmpty() ? Set.of() : new TreeSet<>(List.of(v.split("\n")));
        }

        TorchGenerator.State generator(String name) {
            String key = "generator." + name + ".";
            String precisionName = string(key + "precision");
            TorchGenerator.Precision precision;
            try {
                precision = TorchGenerator.Precision.valueOf(precisionName);
            } catch (IllegalArgumentException e) {
                throw malformed(key + "precision", precisionName, "FLOAT32 or FLOAT64");
            }
            int position = nonNegativeInt(key + "position");
            String cached = string(key + "cached_normal");
            boolean hasCached = !cached.equals("none");
            double cachedNormal = 0;
            if (hasCached) {
                try {
                    cachedNormal = Double.longBitsToDouble(Long.parseUnsignedLong(cached, 16));
                } catch (NumberFormatException e) {
                    throw malformed(key + "cached_normal", cached, "64 bits in hex or \"none\"");
                }
            }
            String hex = string(key + "mt19937");
            if (hex.length() != MT_WORDS * 8) {
                throw malformed(key + "mt19937", hex, MT_WORDS + " words of 8 hex digits");
            }
            int[] words = new int[MT_WORDS];
            try {
                for (int i = 0; i < MT_WORDS; i++) {
                    words[i] = Integer.parseUnsignedInt(hex, i * 8, i * 8 + 8, 16);
                }
            } catch (NumberFormatException e) {
                throw malformed(key + "mt19937", hex, MT_WORDS + " words of 8 hex digits");
            }
            try {
                return new TorchGenerator.State(precision, words, position, hasCached, cachedNormal);
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(where + ": generator '" + name + "': " + e.getMessage());
            }
        }
    }
}
