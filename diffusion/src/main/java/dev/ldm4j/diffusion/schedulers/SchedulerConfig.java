// A scheduler's configuration, resolved as diffusers' ConfigMixin.from_config does: every key the
// scheduler class declares takes the value given in the model's scheduler_config.json when present,
// else the class default; keys the class does not declare are ignored.
package dev.ldm4j.diffusion.schedulers;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class SchedulerConfig {
    private final String className;
    private final Map<String, Object> values;

    /**
     * @param className the scheduler class (used in error messages)
     * @param defaults  the class's declared keys with their defaults (the signature of its __init__)
     * @param given     a scheduler_config.json as parsed by Json (may hold other classes' keys)
     */
    public SchedulerConfig(String className, Map<String, Object> defaults, Map<String, Object> given) {
        this.className = className;
        Map<String, Object> v = new LinkedHashMap<>();
        for (var e : defaults.entrySet()) {
            String key = e.getKey();
            v.put(key, given != null && given.containsKey(key) ? given.get(key) : e.getValue());
        }
        this.values = Collections.unmodifiableMap(v);
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    public Map<String, Object> asMap() {
        return values;
    }

    public String className() {
        return className;
    }

    private Object raw(String key) {
        if (!values.containsKey(key)) {
            throw new IllegalStateException(className + " declares no setting '" + key + "'");
        }
        return values.get(key);
    }

    public int getInt(String key) {
        Object o = raw(key);
        if (o instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())) {
            return n.intValue();
        }
        throw bad(key, "an integer", o);
    }

    public double getDouble(String key) {
        Object o = raw(key);
        if (o instanceof Number n) {
            return n.doubleValue();
        }
        throw bad(key, "a number", o);
    }

    /** A number that may be null (e.g. sigma_min); NaN when null. */
    public double getOptionalDouble(String key) {
        Object o = raw(key);
        return o == null ? Double.NaN : getDouble(key);
    }

    public boolean getBoolean(String key) {
        Object o = raw(key);
        if (o instanceof Boolean b) {
            return b;
        }
        throw bad(key, "true or false", o);
    }

    public String getString(String key) {
        Object o = raw(key);
        if (o instanceof String s) {
            return s;
        }
        throw bad(key, "a string", o);
    }

    /** A string from a fixed set of choices. */
    public String getChoice(String key, String... choices) {
        String s = getString(key);
        for (String c : choices) {
            if (c.equals(s)) {
                return s;
            }
        }
        throw new IllegalArgumentException(className + ": " + key + " = \"" + s + "\" is not supported; expected one of " + String.join(", ", choices));
    }

    /** trained_betas: null, or a list of numbers. */
    public float[] getTrainedBetas() {
        Object o = raw("trained_betas");
        if (o == null) {
            return null;
        }
        if (o instanceof List<?> list) {
            float[] b = new float[list.size()];
            for (int i = 0; i < b.length; i++) {
                if (!(list.get(i) instanceof Number n)) {
                    throw bad("trained_betas[" + i + "]", "a number", list.get(i));
                }
                b[i] = n.floatValue();
            }
            return b;
        }
        throw bad("trained_betas", "null or a list of numbers", o);
    }

    private IllegalArgumentException bad(String key, String expected, Object got) {
        return new IllegalArgumentException(className + ": setting '" + key + "' must be " + expected + ", got " + (got instanceof String ? "\"" + got + "\"" : got));
    }

    @Override
    public String toString() {
        return className + values;
    }
}
