// Bucket sizes of the caching allocator: at least the request, at most half again (powers of two and 1.5x).
package dev.ldm4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DeviceAllocatorTest {
    @Test
    void bucketsArePowersOfTwoAndMidpointsAboveAFloorOf512() {
        assertEquals(512, DeviceAllocator.bucket(1));
        assertEquals(512, DeviceAllocator.bucket(512));
        assertEquals(768, DeviceAllocator.bucket(513));
        assertEquals(768, DeviceAllocator.bucket(768));
        assertEquals(1024, DeviceAllocator.bucket(769));
        assertEquals(3L << 29, DeviceAllocator.bucket((1L << 30) + 1));
    }

    @Test
    void bucketWastesAtMostHalf() {
        for (long n = 513; n < 1 << 22; n = n * 7 / 5 + 3) {
            long b = DeviceAllocator.bucket(n);
            assertTrue(b >= n && b <= n * 3 / 2 + 1, n + " -> " + b);
        }
    }
}
