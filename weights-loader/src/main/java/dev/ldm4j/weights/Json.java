// Reads JSON (config files, safetensors headers, fixtures) into plain Java values with Jackson's
// streaming parser and its read limits (NaN and +-Infinity accepted, as Python writes them): objects become LinkedHashMap<String, Object>, arrays
// ArrayList<Object>, numbers Long or Double (BigInteger/BigDecimal when they do not fit), and
// true/false/null as Boolean or null. Duplicate keys are an error, since a checkpoint header with
// two entries for one name is ambiguous.
package dev.ldm4j.weights;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class Json {
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(64)
                    .maxStringLength(64 << 20)
                    .maxNumberLength(64)
                    .build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            // Python's json module writes NaN / Infinity / -Infinity (e.g. diffusers' scheduler
            // configs hold "lambda_min_clipped": -Infinity), so accept them as doubles.
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    private Json() {
    }

    /** Parses a JSON document; throws JsonException with a one-line reason on malformed input. */
    public static Object parse(String text) {
        try (JsonParser p = FACTORY.createParser(text)) {
            return parseDocument(p);
        } catch (JsonProcessingException e) {
            throw new JsonException(oneLine(e));
        } catch (IOException e) {
            throw new JsonException(e.getMessage());
        }
    }

    /** Parses UTF-8 bytes; invalid UTF-8 is an error. */
    public static Object parse(byte[] utf8) {
        try (JsonParser p = FACTORY.createParser(utf8)) {
            return parseDocument(p);
        } catch (JsonProcessingException e) {
            throw new JsonException(oneLine(e));
        } catch (IOException e) {
            throw new JsonException(e.getMessage());
        }
    }

    /** Parses a file; the message of any failure names the file. */
    public static Object parse(Path file) {
        try (InputStream in = Files.newInputStream(file); JsonParser p = FACTORY.createParser(in)) {
            return parseDocument(p);
        } catch (JsonProcessingException e) {
            throw new JsonException(file + ": invalid JSON: " + oneLine(e));
        } catch (IOException e) {
            throw new JsonException(file + ": cannot read: " + e.getMessage());
        }
    }

    /** Parses a file that must hold a JSON object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(Path file) {
        Object o = parse(file);
        if (!(o instanceof Map)) {
            throw new JsonException(file + ": expected a JSON object at the top level");
        }
        return (Map<String, Object>) o;
    }

    private static Object parseDocument(JsonParser p) throws IOException {
        JsonToken t = p.nextToken();
        if (t == null) {
            throw new JsonException("empty JSON document");
        }
        Object v = value(p, t);
        if (p.nextToken() != null) {
            throw new JsonException("trailing content after the JSON value at " + p.currentLocation().getCharOffset());
        }
        return v;
    }

    private static Object value(JsonParser p, JsonToken t) throws IOException {
        switch (t) {
            case START_OBJECT -> {
                Map<String, Object> m = new LinkedHashMap<>();
                while ((t = p.nextToken()) != JsonToken.END_OBJECT) {
                    String k = p.currentName();
                    m.put(k, value(p, p.nextToken()));
                }
                return m;
            }
            case START_ARRAY -> {
                List<Object> a = new ArrayList<>();
                while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                    a.add(value(p, t));
                }
                return a;
            }
            case VALUE_STRING -> {
                return p.getText();
            }
            case VALUE_NUMBER_INT -> {
                return switch (p.getNumberType()) {
                    case INT, LONG -> p.getLongValue();
                    default -> p.getBigIntegerValue();
                };
            }
            case VALUE_NUMBER_FLOAT -> {
                return p.getDoubleValue();
            }
            case VALUE_TRUE -> {
                return Boolean.TRUE;
            }
            case VALUE_FALSE -> {
                return Boolean.FALSE;
            }
            case VALUE_NULL -> {
                return null;
            }
            default -> throw new JsonException("unexpected JSON token " + t);
        }
    }

    private static String oneLine(JsonProcessingException e) {
        String m = e.getOriginalMessage();
        var loc = e.getLocation();
        return (m == null ? "malformed JSON" : m.replace('\n', ' ')) + (loc == null ? "" : " (line " + loc.getLineNr() + ", column " + loc.getColumnNr() + ")");
    }

    /** Malformed or unexpected JSON; the message is one line. */
    public static final class JsonException extends RuntimeException {
        public JsonException(String message) {
            super(message);
        }
    }

    /** Convenience for reading a string from UTF-8 bytes strictly (no replacement characters). */
    public static String strictUtf8(byte[] bytes) {
        var dec = StandardCharsets.UTF_8.newDecoder();
        try {
            return dec.decode(java.nio.ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new JsonException("invalid UTF-8");
        }
    }
}
