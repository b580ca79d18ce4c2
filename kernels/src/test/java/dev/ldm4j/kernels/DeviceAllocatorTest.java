// Bucket sizes of the caching allocator: at least the request, at most half again (powers of two and 1.5x);
// exact sizes for long-lived blocks.
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
    void exactRequestsRoundToHalfAKilobyteOnly() {
        assertEquals(512, DeviceAllocator.exactSize(1));
        assertEquals(512, DeviceAllocator.exactSize(512));
        assertEquals(1024, DeviceAllocator.exactSize(513));
        // A 5120 x 640 F16 weight (GEGLU at 640 channels): 6553600 bytes exactly, where its bucket holds 8 MiB.
        assertEquals(6553600, DeviceAllocator.exactSize(5120L * 640 * 2));
        assertEquals(8L << 20, DeviceAllocator.bucket(5120L * 640 * 2));
    }

    @Test
    void bucketWastesAtMostHalf() {
        for (long n = 513; n < 1 << 22; n = n * 7 / 5 + 3) {
            long b = DeviceAllocator.bucket(n);
            assertTrue(b >= n && b <= n * 3 / 2 + 1, n + " -> " + b);
        }
    }
}
