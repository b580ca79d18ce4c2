// Typed reads from a parsed config.json (Json's Map/List/Long/Double/String/Boolean values), with a
// default for absent or null keys and a one-line WeightException naming the key on a wrong type.
package dev.ldm4j.nn;

import dev.ldm4j.weights.WeightException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public final class ConfigValues {
    private final Map<String, Object> map;
    private final String what;

    /** Reads from map; what names the config in messages ("unet config.json"). */
    public ConfigValues(Map<String, Object> map, String what) {
        this.map = map;
        this.what = what;
    }

    /** True when the key is present with a non-null value. */
    public boolean has(String key) {
        return map.get(key) != null;
    }

    public int integer(String key, int dflt) {
        Object v = map.get(key);
        if (v == null) {
            return dflt;
        }
        return toInt(key, v);
    }

    public double number(String key, double dflt) {
        Object v = map.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        throw bad(key, "a number", v);
    }

    public boolean bool(String key, boolean dflt) {
        Object v = map.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw bad(key, "true or false", v);
    }

    public String string(String key, String dflt) {
        Object v = map.get(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof String s) {
            return s;
        }
        throw bad(key, "a string", v);
    }

    /** A list of integers; a single integer is repeated n times (diffusers' int-or-tuple arguments). */
    public List<Integer> integers(String key, int n, List<Integer> dflt) {
        Object v = map.get(key);
        if (v == null) {
            return dflt;
        }
        List<Integer> out = new ArrayList<>();
        if (v instanceof List<?> list) {
            for (Object o : list) {
                out.add(toInt(key, o));
            }
            if (n >= 0 && out.size() != n) {
                throw new WeightException(what + ": '" + key + "' has " + out.size() + " entries, expected " + n + " (one per block)");
            }
        } else {
            int x = toInt(key, v);
            if (n < 0) {
                throw bad(key, "a list of integers", v);
            }
            for (int i = 0; i < n; i++) {
                out.add(x);
            }
        }
        return List.copyOf(out);
    }

    public List<String> strings(String key, List<String> dflt) {
        Object v = map.get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof List<?> list)) {
            throw bad(key, "a list of strings", v);
        }
        List<String> out = new ArrayList<>();
        for (Object o : list) {
            if (!(o instanceof String s)) {
                throw bad(key, "a list of strings", v);
            }
            out.add(s);
        }
        return List.copyOf(out);
    }

    /** Throws naming the key unless it is absent, null, or equal to the one supported value. */
    public void requireOneOf(String key, Object... supported) {
        Object v = map.get(key);
        if (v == null) {
            return;
        }
        for (Object s : supported) {
            if (s.equals(v) || (s instanceof Number a && v instanceof Number b && a.doubleValue() == b.doubleValue())) {
                return;
            }
        }
        throw new WeightException(what + ": unsupported " + key + " = " + v + " (ldm4j supports " + List.of(supported) + ")");
    }

    /** Throws naming the key unless it is absent or null. */
    public void requireAbsent(String key) {
        Object v = map.get(key);
        if (v != null) {
            throw new WeightException(what + ": unsupported " + key + " = " + v + " (ldm4j supports SD 1.x/2.x models, where it is null)");
        }
    }

    private int toInt(String key, Object v) {
        if (v instanceof Long || v instanceof Integer) {
            long l = ((Number) v).longValue();
            if (l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) {
                return (int) l;
            }
        }
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < Integer.MAX_VALUE) {
            return d.intValue();
        }
        throw bad(key, "an integer", v);
    }

    private WeightException bad(String key, String expected, Object v) {
        return new WeightException(what + ": '" + key + "' must be " + expected + ", got " + v);
    }
}
