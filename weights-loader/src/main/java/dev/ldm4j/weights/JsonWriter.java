// Writes the JSON that model folders hold (config.json, model_index.json, tokenizer files) and training logs:
// maps (in their iteration order), lists, strings, numbers, booleans and null, two-space indented or on one line.
package dev.ldm4j.weights;

import java.util.List;
import java.util.Map;

public final class JsonWriter {
    private JsonWriter() {
    }

    /** value as indented JSON, ending with a newline. */
    public static String pretty(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, 0, true);
        return sb.append('\n').toString();
    }

    /** value as JSON on one line (a JSON Lines record). */
    public static String line(Object value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, 0, false);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, int depth, boolean indent) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof String s) {
            string(sb, s);
        } else if (v instanceof Boolean b) {
            sb.append(b);
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (!Double.isFinite(d)) {
                throw new IllegalArgumentException("JSON has no value for " + d);
            }
            sb.append(d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) + ".0" : Double.toString(d));
        } else if (v instanceof Number n) {
            sb.append(n.longValue());
        } else if (v instanceof Map<?, ?> m) {
            sb.append('{');
            int i = 0;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                sb.append(i++ == 0 ? "" : ",");
                newline(sb, depth + 1, indent);
                string(sb, String.valueOf(e.getKey()));
                sb.append(indent ? ": " : ":");
                write(sb, e.getValue(), depth + 1, indent);
            }
            if (!m.isEmpty()) {
                newline(sb, depth, indent);
            }
            sb.append('}');
        } else if (v instanceof List<?> l) {
            sb.append('[');
            for (int i = 0; i < l.size(); i++) {
                sb.append(i == 0 ? "" : ",");
                newline(sb, depth + 1, indent);
                write(sb, l.get(i), depth + 1, indent);
            }
            if (!l.isEmpty()) {
                newline(sb, depth, indent);
            }
            sb.append(']');
        } else {
            throw new IllegalArgumentException("JSON cannot hold a " + v.getClass().getSimpleName());
        }
    }

    private static void newline(StringBuilder sb, int depth, boolean indent) {
        if (indent) {
            sb.append('\n').append("  ".repeat(depth));
        }
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
