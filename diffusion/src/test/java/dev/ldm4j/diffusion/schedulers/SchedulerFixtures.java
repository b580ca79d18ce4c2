// Reads the shared scheduler conformance fixtures (schedulers.json + schedulers.safetensors): a
// minimal safetensors reader for the F32/F64 tensors they hold, kept in the tests.
package dev.ldm4j.diffusion.schedulers;

import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.weights.Json;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

final class SchedulerFixtures {
    private final Map<String, Object> setups;
    private final Map<String, Object> header;
    private final ByteBuffer data;

    private SchedulerFixtures(Map<String, Object> setups, Map<String, Object> header, ByteBuffer data) {
        this.setups = setups;
        this.header = header;
        this.data = data;
    }

    static SchedulerFixtures load() throws IOException {
        Path dir = SharedFixtures.conformance();
        Map<String, Object> setups = Json.parseObject(dir.resolve("schedulers.json"));
        byte[] bytes = Files.readAllBytes(dir.resolve("schedulers.safetensors"));
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) buf.getLong(0);
        @SuppressWarnings("unchecked")
        Map<String, Object> header = (Map<String, Object>) Json.parse(java.util.Arrays.copyOfRange(bytes, 8, 8 + n));
        ByteBuffer data = ByteBuffer.wrap(bytes, 8 + n, bytes.length - 8 - n).slice().order(ByteOrder.LITTLE_ENDIAN);
        return new SchedulerFixtures(setups, header, data);
    }

    Map<String, Object> setups() {
        return setups;
    }

    boolean has(String name) {
        return header.containsKey(name);
    }

    @SuppressWarnings("unchecked")
    int[] shape(String name) {
        List<Object> s = (List<Object>) ((Map<String, Object>) header.get(name)).get("shape");
        return s.stream().mapToInt(o -> ((Number) o).intValue()).toArray();
    }

    /** A tensor's values as doubles (F32 or F64). */
    @SuppressWarnings("unchecked")
    double[] doubles(String name) {
        Map<String, Object> info = (Map<String, Object>) header.get(name);
        if (info == null) {
            throw new IllegalArgumentException("schedulers.safetensors has no tensor " + name);
        }
        List<Object> off = (List<Object>) info.get("data_offsets");
        int begin = ((Number) off.get(0)).intValue();
        int end = ((Number) off.get(1)).intValue();
        String dtype = (String) info.get("dtype");
        int width = dtype.equals("F64") ? 8 : 4;
        double[] out = new double[(end - begin) / width];
        for (int i = 0; i < out.length; i++) {
            out[i] = width == 8 ? data.getDouble(begin + 8 * i) : data.getFloat(begin + 4 * i);
        }
        return out;
    }

    float[] floats(String name) {
        double[] d = doubles(name);
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }
}
