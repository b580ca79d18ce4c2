// The order in which a finite dataset is visited: one seeded Fisher-Yates permutation per epoch, so the
// sample at any position of any epoch is fixed by (seed, epoch) alone (a resumed run sees the same batches).
package dev.ldm4j.train;

import java.util.SplittableRandom;

final class EpochShuffle {
    private static long cachedSeed = Long.MIN_VALUE;
    private static int[] cached;

    private EpochShuffle() {
    }

    /** The dataset index at position pos of the permutation of 0..size-1 seeded by epochSeed. */
    static synchronized long index(long epochSeed, long size, long pos) {
        if (cached == null || cachedSeed != epochSeed || cached.length != size) {
            int n = Math.toIntExact(size);
            int[] perm = new int[n];
            for (int i = 0; i < n; i++) {
                perm[i] = i;
            }
            SplittableRandom r = new SplittableRandom(epochSeed);
            for (int i = n - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            cached = perm;
            cachedSeed = epochSeed;
        }
        return cached[Math.toIntExact(pos)];
    }
}
