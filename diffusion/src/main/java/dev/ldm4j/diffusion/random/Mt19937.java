// The 32-bit Mersenne Twister (Matsumoto & Nishimura 1998) as PyTorch's CPU generator runs it:
// seeded from the low 32 bits of a 64-bit seed with the standard Knuth initialisation, state
// regenerated 624 words at a time, tempered output. Its whole state (624 words and the read
// position) can be copied out and back, so a resumed run continues the same stream.
package dev.ldm4j.diffusion.random;

final class Mt19937 {
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER_MASK = 0x80000000;
    private static final int LOWER_MASK = 0x7fffffff;

    private final int[] state = new int[N];
    private int next;

    Mt19937(long seed) {
        state[0] = (int) seed; // the low 32 bits, as PyTorch's mt19937(uint64_t) keeps them
        for (int j = 1; j < N; j++) {
            int prev = state[j - 1];
            state[j] = 1812433253 * (prev ^ (prev >>> 30)) + j;
        }
        next = N; // the first draw regenerates the whole state
    }

    /** An engine in exactly the state words() and position() describe. */
    Mt19937(int[] words, int position) {
        if (words.length != N) {
            throw new IllegalArgumentException("mt19937 state has " + words.length + " words, expected " + N);
        }
        if (position < 0 || position > N) {
            throw new IllegalArgumentException("mt19937 position " + position + " is outside 0.." + N);
        }
        System.arraycopy(words, 0, state, 0, N);
        next = position;
    }

    /** A copy of the 624 state words. */
    int[] words() {
        return state.clone();
    }

    /** The index of the next word to temper (624: the state is regenerated before the next draw). */
    int position() {
        return next;
    }

    /** The next 32 random bits. */
    int nextInt() {
        if (next == N) {
            twist();
        }
        int y = state[next++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y;
    }

    private void twist() {
        for (int i = 0; i < N; i++) {
            int y = (state[i] & UPPER_MASK) | (state[(i + 1) % N] & LOWER_MASK);
            state[i] = state[(i + M) % N] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
        }
        next = 0;
    }
}
