// The Philox4x32-10 counter-based generator (Salmon, Moraes, Dror & Shaw 2011, "Parallel Random
// Numbers: As Easy as 1, 2, 3", SC'11): ten rounds of two 32x32->64-bit multiplies that mix a
// 128-bit counter under a 64-bit key bumped by Weyl constants between rounds. cuRAND's
// curandStatePhilox4_32_10_t, and so PyTorch's CUDA generator, uses these constants.
package dev.ldm4j.diffusion.random;

final class Philox4x32 {
    private static final long M0 = 0xD2511F53L;
    private static final long M1 = 0xCD9E8D57L;
    private static final int W0 = 0x9E3779B9; // golden ratio
    private static final int W1 = 0xBB67AE85; // sqrt(3) - 1
    private static final int ROUNDS = 10;

    private Philox4x32() {
    }

    /** The four 32-bit outputs for counter ctr (x, y, z, w) and key (k0, k1), written to out. */
    static void block(int[] ctr, int k0, int k1, int[] out) {
        int c0 = ctr[0];
        int c1 = ctr[1];
        int c2 = ctr[2];
        int c3 = ctr[3];
        for (int r = 0; r < ROUNDS; r++) {
            long p0 = M0 * Integer.toUnsignedLong(c0);
            long p1 = M1 * Integer.toUnsignedLong(c2);
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
            int n1 = (int) p1;
            int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            int n3 = (int) p0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
            k0 += W0;
            k1 += W1;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }
}
