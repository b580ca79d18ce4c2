// torch.Generator("cuda").manual_seed(seed) followed by torch.randn(shape, device="cuda"), computed
// on the CPU: the noise a diffusers user gets from a CUDA generator. PyTorch's CUDA generator is
// cuRAND's Philox4x32-10 (Salmon et al. 2011, "Parallel Random Numbers: As Easy as 1, 2, 3"):
// every GPU thread seeds its own stream (key = seed, counter = [offset / 4, thread index]) and turns
// each four 32-bit outputs into four normals by Box-Muller. torch.randn launches 256-thread blocks
// (aten/src/ATen/native/cuda/DistributionTemplates.h, calc_execution_policy and
// distribution_nullary_kernel); element i is written by thread i % threads in round i / (4 threads),
// and the generator's offset then advances by 4 per round.
//
// Not bit-exact: on the GPU cuRAND's Box-Muller uses the hardware approximations __logf and
// __sincosf, whose exact results the hardware defines; here they are computed in double precision.
// Against torch.randn on a GPU the values agree to about 2e-6 (randn.safetensors, cuda.* entries).
package dev.ldm4j.diffusion.random;

import java.util.Arrays;

public final class TorchCudaGenerator implements NoiseSource {
    private static final int BLOCK_SIZE = 256;
    private static final int NORMALS_PER_CALL = 4; // curand_normal4
    // cuRAND's constants for mapping 32-bit integers into (0, 1] and (0, 2 pi].
    private static final float TWO_POW_32_INV = 2.3283064e-10f;
    private static final float TWO_POW_32_INV_2PI = 2.3283064e-10f * 6.2831855f;

    private final long seed;
    private final long maxThreads;
    private long offset;

    /**
     * As torch.Generator("cuda").manual_seed(seed), on a GPU large enough that one thread serves
     * each element (any current GPU for tensors up to 2^17 values, e.g. SD latents up to batch 8
     * at 512x512).
     */
    public TorchCudaGenerator(long seed) {
        this(seed, Long.MAX_VALUE);
    }

    /**
     * As above, for a GPU with the given number of multiprocessors and resident threads per
     * multiprocessor (cudaDeviceProp.multiProcessorCount and maxThreadsPerMultiProcessor), which
     * cap the grid PyTorch launches and so decide which thread draws which element.
     */
    public TorchCudaGenerator(long seed, int multiProcessors, int maxThreadsPerMultiProcessor) {
        this(seed, (long) multiProcessors * (maxThreadsPerMultiProcessor / BLOCK_SIZE) * BLOCK_SIZE);
    }

    private TorchCudaGenerator(long seed, long maxThreads) {
        if (maxThreads < BLOCK_SIZE) {
            throw new IllegalArgumentException("a GPU must hold at least one block of " + BLOCK_SIZE + " threads");
        }
        this.seed = seed;
        this.maxThreads = maxThreads;
    }

    @Override
    public float[] randn(int... shape) {
        long count = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in randn shape " + Arrays.toString(shape));
            }
            count *= d;
        }
        if (count > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("randn shape " + Arrays.toString(shape) + " is too large");
        }
        int n = (int) count;
        float[] out = new float[n];
        if (n == 0) {
            return out;
        }
        long blocks = Math.min((n + BLOCK_SIZE - 1) / BLOCK_SIZE, maxThreads / BLOCK_SIZE);
        long threads = blocks * BLOCK_SIZE;
        long stride = threads * NORMALS_PER_CALL;
        long rounds = (n - 1) / stride + 1;
        long start = offset;
        offset += rounds * NORMALS_PER_CALL; // philox_cuda_state: the counter advance, a multiple of 4

        int[] ctr = new int[4];
        int[] bits = new int[4];
        float[] normals = new float[4];
        for (long thread = 0; thread < Math.min(threads, n); thread++) {
            for (long round = 0; round < rounds; round++) {
                // curand_init(seed, subsequence = thread, offset = start), then `round` calls of curand4.
                long low = start / 4 + round;
                ctr[0] = (int) low;
                ctr[1] = (int) (low >>> 32);
                ctr[2] = (int) thread;
                ctr[3] = (int) (thread >>> 32);
                Philox4x32.block(ctr, (int) seed, (int) (seed >>> 32), bits);
                boxMuller(bits[0], bits[1], normals, 0);
                boxMuller(bits[2], bits[3], normals, 2);
                for (int k = 0; k < NORMALS_PER_CALL; k++) {
                    long index = round * stride + thread + threads * k;
                    if (index < n) {
                        out[(int) index] = normals[k];
                    }
                }
            }
        }
        return out;
    }

    /** cuRAND's _curand_box_muller: two 32-bit integers -> (sin, cos) pair of normals. */
    private static void boxMuller(int x, int y, float[] out, int at) {
        float u = Math.fma((float) Integer.toUnsignedLong(x), TWO_POW_32_INV, TWO_POW_32_INV / 2f); // (0, 1]
        float v = Math.fma((float) Integer.toUnsignedLong(y), TWO_POW_32_INV_2PI, TWO_POW_32_INV_2PI / 2f); // (0, 2 pi]
        float s = (float) Math.sqrt(-2f * (float) Math.log(u));
        out[at] = (float) Math.sin(v) * s;
        out[at + 1] = (float) Math.cos(v) * s;
    }
}
