// AUTOMATIC1111's generation parameters text (the PNG "parameters" chunk), written and read as the web
// UI does (modules/processing.py create_infotext; modules/infotext_utils.py parse_generation_parameters,
// quote, unquote):
//
//     a photo of a cat
//     Negative prompt: blurry
//     Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: 6ce0161689, Model: v1-5
//
// The prompt's lines, then (when there is one) the negative prompt after "Negative prompt: ", then one
// line of "Key: value" pairs; a value holding a comma, colon or newline is written as a JSON string.
// What the keys mean is GenerationSettings's business.
package dev.ldm4j.cli;

import dev.ldm4j.weights.Json;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * @param prompt         the prompt (its lines joined with \n)
 * @param negativePrompt the negative prompt ("" when there is none)
 * @param fields         the "Key: value" pairs of the last line, in order, values unquoted
 */
record Infotext(String prompt, String negativePrompt, Map<String, String> fields) {
    /** infotext_utils.re_param: a key of word characters, spaces, - and /; a quoted or a comma-free value. */
    private static final Pattern PARAM = Pattern.compile("\\s*(\\w[\\w \\-/]+):\\s*(\"(?:\\\\.|[^\\\\\"])+\"|[^,]*)(?:,|$)",
            Pattern.UNICODE_CHARACTER_CLASS);
    private static final String NEGATIVE = "Negative prompt:";

    Infotext {
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    /** create_infotext: prompt, "\nNegative prompt: ..." when not empty, "\n" and the pairs; stripped. */
    String format() {
        List<String> pairs = new ArrayList<>();
        fields.forEach((k, v) -> pairs.add(k + ": " + quote(v)));
        String negative = negativePrompt.isEmpty() ? "" : "\n" + NEGATIVE + " " + negativePrompt;
        return (prompt + negative + "\n" + String.join(", ", pairs)).strip();
    }

    /**
     * parse_generation_parameters: the last line holds the pairs when it has at least three of them;
     * the lines before are the prompt, then, from the line starting with "Negative prompt:", the
     * negative prompt (each line stripped). A pair with an empty value is dropped, as there.
     */
    static Infotext parse(String text) {
        List<String> lines = new ArrayList<>(List.of(text.strip().split("\n", -1)));
        String last = lines.removeLast();
        if (count(last) < 3) {
            lines.add(last);
            last = "";
        }
        StringBuilder prompt = new StringBuilder();
        StringBuilder negative = new StringBuilder();
        boolean inNegative = false;
        for (String raw : lines) {
            String line = raw.strip();
            if (line.startsWith(NEGATIVE)) {
                inNegative = true;
                line = line.substring(NEGATIVE.length()).strip();
            }
            StringBuilder target = inNegative ? negative : prompt;
            target.append(target.isEmpty() ? "" : "\n").append(line);
        }
        Map<String, String> fields = new LinkedHashMap<>();
        Matcher m = PARAM.matcher(last);
        while (m.find()) {
            String value = m.group(2);
            if (value.isEmpty()) {
                continue;
            }
            fields.put(m.group(1), value.charAt(0) == '"' && value.charAt(value.length() - 1) == '"' ? unquote(value) : value);
        }
        return new Infotext(prompt.toString(), negative.toString(), fields);
    }

    private static int count(String line) {
        int n = 0;
        Matcher m = PARAM.matcher(line);
        while (m.find()) {
            n++;
        }
        return n;
    }

    /** infotext_utils.quote: as it is, unless it holds a comma, newline or colon: then json.dumps(ensure_ascii=False). */
    static String quote(String value) {
        if (value.indexOf(',') < 0 && value.indexOf('\n') < 0 && value.indexOf(':') < 0) {
            return value;
        }
        StringBuilder b = new StringBuilder(value.length() + 2).append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> b.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
            }
        }
        return b.append('"').toString();
    }

    /** infotext_utils.unquote: json.loads of a "..." value, or the value as it is when that fails. */
    static String unquote(String value) {
        try {
            return Json.parse(value) instanceof String s ? s : value;
        } catch (RuntimeException notJson) {
            return value;
        }
    }
}
