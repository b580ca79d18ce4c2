// Decode time of one 512x512 image (a [1, 4, 64, 64] latent) on the CPU backend: a full-size random-weight TAESD
// (AutoencoderTiny, AutoencoderTinyConfig.taesd(): width 64, decoder blocks 3-3-3-1) beside the full-size
// random-weight SD VAE decoder (AutoencoderKL, VaeConfig.sd(): channels 128-256-512-512, mid-block attention),
// in one JVM. Weights are PyTorch's default initialization (ModelInit.pytorchDefaults), so the numbers are those of
// the architectures, not of trained models (the arithmetic is the same). TAESD is decoded once to warm up, then
// each model `reps` times; prints every time, the median, and the process CPU time per decode (less sensitive
// to other load on a shared machine than the wall time).
//
// Run (after ./mvnw -o -q -pl bench -am compile):
//   java --add-modules jdk.incubator.vector -Xmx6g -cp <bench classpath> dev.ldm4j.bench.TinyDecodeBench [reps]
// With --write-taesd DIR it instead writes that random full-size TAESD as a diffusers folder (config.json with the
// defaults, fp16 weights), to time `./ldm4j generate --vae DIR` end to end without downloading TAESD.
package dev.ldm4j.bench;

import dev.ldm4j.diffusion.vae.Autoencoder;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.diffusion.vae.AutoencoderTiny;
import dev.ldm4j.diffusion.vae.AutoencoderTinyConfig;
import dev.ldm4j.diffusion.vae.VaeConfig;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.train.ModelInit;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

public final class TinyDecodeBench {
    private TinyDecodeBench() {
    }

    public static void main(String[] args) {
        if (args.length == 2 && args[0].equals("--write-taesd")) {
            try (Backend cpu = Backends.create("cpu")) {
                Params p = Params.initializing(cpu, ModelInit.pytorchDefaults(1));
                new AutoencoderTiny(p, AutoencoderTinyConfig.taesd());
                dev.ldm4j.train.DiffusersFolder.writeComponent(java.nio.file.Path.of(args[1]), "AutoencoderTiny", Map.of(), p.created(),
                        dev.ldm4j.tensor.DType.F16);
            }
            System.out.println("wrote a random-weight TAESD to " + args[1]);
            return;
        }
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 3;
        try (Backend cpu = Backends.create("cpu")) {
            Tensor z = latent(1);                                                       // [1, 4, 64, 64]
            System.out.printf(Locale.ROOT, "threads %d, latent %s%n", Runtime.getRuntime().availableProcessors(), Arrays.toString(z.shape()));
            AutoencoderTiny taesd = new AutoencoderTiny(Params.initializing(cpu, ModelInit.pytorchDefaults(1)), AutoencoderTinyConfig.taesd());
            time("TAESD warm-up", taesd, z, 1);
            time("TAESD (AutoencoderTiny, width 64)", taesd, z, reps);
            AutoencoderKL kl = new AutoencoderKL(Params.initializing(cpu, ModelInit.pytorchDefaults(2)), VaeConfig.sd());
            time("SD VAE (AutoencoderKL decoder)", kl, z, reps);
        }
    }

    private static void time(String what, Autoencoder vae, Tensor z, int reps) {
        double[] wall = new double[reps];
        double[] cpu = new double[reps];
        for (int i = 0; i < reps; i++) {
            long c0 = processCpuNanos();
            long t0 = System.nanoTime();
            Tensor image = vae.decode(z);                                               // [1, 3, 512, 512]
            wall[i] = (System.nanoTime() - t0) / 1e9;
            cpu[i] = (processCpuNanos() - c0) / 1e9;
            if (image.dim(2) != 512 || image.dim(3) != 512) {
                throw new IllegalStateException("decoded " + Arrays.toString(image.shape()));
            }
        }
        System.out.printf(Locale.ROOT, "%s: wall %s s, median %.2f s; process CPU %s s, median %.2f s%n", what,
                format(wall), median(wall), format(cpu), median(cpu));
    }

    private static Tensor latent(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[4 * 64 * 64];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return Tensor.of(v, 1, 4, 64, 64);
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static String format(double[] x) {
        StringBuilder b = new StringBuilder();
        for (double v : x) {
            b.append(b.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, "%.2f", v));
        }
        return "[" + b + "]";
    }
}
