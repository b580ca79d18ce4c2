// The committed PTX modules (one per kernel family, compiled from src/main/cuda by build-ptx.sh) and
// what they need from the driver: nvcc writes ".version X.Y", the PTX ISA version, which a driver
// accepts only if it supports that CUDA release or a later one.
package dev.ldm4j.kernels;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class Ptx {
    /** Kernel families, each a resource dev/ldm4j/kernels/ptx/NAME.ptx. */
    static final List<String> MODULES = List.of("attention", "attention_mma", "conv2d", "conv2d_mma", "convert", "elementwise", "gemm", "gemm_mma", "norm");

    private static final Pattern VERSION = Pattern.compile("(?m)^\\.version (\\d+)\\.(\\d+)");

    private Ptx() {
    }

    /** The PTX text of one module. */
    static String source(String module) {
        String path = "ptx/" + module + ".ptx";
        try (InputStream in = Ptx.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("kernel module " + path + " is missing from the kernels jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read kernel module " + path, e);
        }
    }

    /** The PTX ISA version of a module as {major, minor}. */
    static int[] isaVersion(String ptx) {
        Matcher m = VERSION.matcher(ptx);
        if (!m.find()) {
            throw new IllegalStateException("PTX without a .version line");
        }
        return new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))};
    }

    /**
     * The lowest driver version (as cuDriverGetVersion reports it, 1000 * major + 10 * minor) that
     * accepts this PTX ISA version. PTX ISA 7.x came with CUDA 11.x, 8.x with 12.x and 9.x with 13.x
     * (NVIDIA, PTX ISA release notes), minor for minor.
     */
    static int requiredDriverVersion(int[] isa) {
        int cudaMajor = isa[0] + 4;
        return cudaMajor * 1000 + isa[1] * 10;
    }

    /** "13.0" for 13000. */
    static String cudaVersionLabel(int driverVersion) {
        return driverVersion / 1000 + "." + driverVersion % 1000 / 10;
    }
}
