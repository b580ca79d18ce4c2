// Run-time compilation of the bundled kernel sources (dev/ldm4j/kernels/cuda/*.cu, *.cuh) to PTX through
// JCuda's NVRTC binding, for drivers too old for the committed PTX. status() finds out once whether CUDA
// 12's libnvrtc.so.12 and JCuda's libJNvrtc load here; ptx() compiles a module once per process.
package dev.ldm4j.kernels;

import static jcuda.nvrtc.JNvrtc.nvrtcCompileProgram;
import static jcuda.nvrtc.JNvrtc.nvrtcCreateProgram;
import static jcuda.nvrtc.JNvrtc.nvrtcDestroyProgram;
import static jcuda.nvrtc.JNvrtc.nvrtcGetNumSupportedArchs;
import static jcuda.nvrtc.JNvrtc.nvrtcGetPTX;
import static jcuda.nvrtc.JNvrtc.nvrtcGetProgramLog;
import static jcuda.nvrtc.JNvrtc.nvrtcGetSupportedArchs;
import static jcuda.nvrtc.JNvrtc.nvrtcVersion;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jcuda.CudaException;
import jcuda.nvrtc.nvrtcProgram;
import jcuda.nvrtc.nvrtcResult;

final class Nvrtc {
    /** The NVRTC library that JCuda 12.0.0's libJNvrtc links against. */
    static final String LIBRARY = "libnvrtc.so.12";

    /** Every header in src/main/cuda; each module is compiled with all of them available by name. */
    static final List<String> HEADERS = List.of("common.cuh", "conv2d_operands.cuh", "gemm_operands.cuh", "gemm_tile.cuh", "mma_tile.cuh", "ptx_ops.cuh");

    /** NVRTC's release (cuDriverGetVersion units) when usable, else problem says in a few words why not. */
    record Status(int version, String problem) {
    }

    private static Status status;
    private static final Map<String, String> COMPILED = new HashMap<>();

    private Nvrtc() {
    }

    /** Whether NVRTC can be used here; probed once, never throws. */
    static synchronized Status status() {
        if (status == null) {
            status = probe();
        }
        return status;
    }

    private static Status probe() {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup(LIBRARY, arena);
        } catch (IllegalArgumentException | IllegalCallerException e) {
            return new Status(0, LIBRARY + " not found");
        }
        try {
            int[] major = new int[1], minor = new int[1];
            int r = nvrtcVersion(major, minor);
            if (r != nvrtcResult.NVRTC_SUCCESS) {
                return new Status(0, "nvrtcVersion failed with " + nvrtcResult.stringFor(r));
            }
            return new Status(1000 * major[0] + 10 * minor[0], null);
        } catch (LinkageError | CudaException e) {
            return new Status(0, "the JCuda NVRTC natives (libJNvrtc) failed to load: " + firstLine(e.getMessage()));
        }
    }

    /** The text of a bundled kernel source or header, e.g. "gemm.cu". */
    static String source(String file) {
        String path = "cuda/" + file;
        try (InputStream in = Nvrtc.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + path + " is missing from the kernels jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read kernel source " + path, e);
        }
    }

    /** PTX for module compiled for a device of computeCapability (e.g. 86); compiled once per process. */
    static synchronized String ptx(String module, int computeCapability) {
        String key = module + "@" + computeCapability;
        String ptx = COMPILED.get(key);
        if (ptx == null) {
            ptx = compile(module, computeCapability);
            COMPILED.put(key, ptx);
        }
        return ptx;
    }

    private static String compile(String module, int computeCapability) {
        Status s = status();
        if (s.problem() != null) {
            throw new IllegalStateException("cannot compile " + module + ".cu at run time: " + s.problem());
        }
        String file = module + ".cu";
        String[] names = HEADERS.toArray(String[]::new);
        String[] texts = HEADERS.stream().map(Nvrtc::source).toArray(String[]::new);
        nvrtcProgram program = new nvrtcProgram();
        check(nvrtcCreateProgram(program, source(file), file, names.length, texts, names), "nvrtcCreateProgram", file);
        try {
            String[] options = options(architecture(computeCapability)).toArray(String[]::new);
            int r = nvrtcCompileProgram(program, options.length, options);
            if (r != nvrtcResult.NVRTC_SUCCESS) {
                String[] log = new String[1];
                nvrtcGetProgramLog(program, log);
                throw new IllegalStateException("run-time compilation of " + file + " failed (" + nvrtcResult.stringFor(r) + "): " + firstError(log[0]));
            }
            String[] ptx = new String[1];
            check(nvrtcGetPTX(program, ptx), "nvrtcGetPTX", file);
            return ptx[0];
        } finally {
            nvrtcDestroyProgram(program);
        }
    }

    /** The options build-ptx.sh gives nvcc, in NVRTC's spelling, plus an include path for cuda_fp16.h when one is set. */
    static List<String> options(int architecture) {
        List<String> options = new ArrayList<>(List.of("--gpu-architecture=compute_" + architecture, "-std=c++17"));
        for (String env : List.of("CUDA_HOME", "CUDA_PATH")) {
            String home = System.getenv(env);
            if (home != null && Files.isRegularFile(Path.of(home, "include", "cuda_fp16.h"))) {
                options.add("--include-path=" + Path.of(home, "include"));
            }
        }
        return options;
    }

    /** The newest architecture this NVRTC supports that the device can run (a newer GPU JIT-compiles older PTX). */
    private static int architecture(int computeCapability) {
        int[] count = new int[1];
        if (nvrtcGetNumSupportedArchs(count) != nvrtcResult.NVRTC_SUCCESS || count[0] == 0) {
            return computeCapability;
        }
        int[] archs = new int[count[0]];
        if (nvrtcGetSupportedArchs(archs) != nvrtcResult.NVRTC_SUCCESS) {
            return computeCapability;
        }
        return chooseArchitecture(computeCapability, archs);
    }

    /** The largest of supported that is at most computeCapability, or computeCapability when none is. */
    static int chooseArchitecture(int computeCapability, int[] supported) {
        int best = -1;
        for (int a : supported) {
            if (a <= computeCapability && a > best) {
                best = a;
            }
        }
        return best < 0 ? computeCapability : best;
    }

    /** The first line of an NVRTC program log that reports an error, else its first non-blank line. */
    static String firstError(String log) {
        if (log == null || log.isBlank()) {
            return "(empty compiler log)";
        }
        String first = null;
        for (String line : log.split("\n")) {
            String l = line.strip();
            if (l.contains("error")) {
                return l;
            }
            if (first == null && !l.isEmpty()) {
                first = l;
            }
        }
        return first;
    }

    private static void check(int result, String call, String file) {
        if (result != nvrtcResult.NVRTC_SUCCESS) {
            throw new IllegalStateException(call + " failed for " + file + ": " + nvrtcResult.stringFor(result));
        }
    }

    static String firstLine(String s) {
        if (s == null) {
            return "(no message)";
        }
        int nl = s.indexOf('\n');
        return (nl < 0 ? s : s.substring(0, nl)).strip();
    }
}
