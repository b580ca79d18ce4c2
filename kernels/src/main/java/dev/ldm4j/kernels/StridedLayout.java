// The index space of a strided operation, simplified before launch: dimensions of size 1 are dropped and
// neighbouring dimensions are merged wherever every operand walks them as one (stride[a] = stride[a+1] *
// shape[a+1] in each). A concat's part [2, 640, 32, 32] written into [2, 1280, 32, 32] becomes 2 rows of
// 655360, and a permute [2, 320, 64, 64] -> [2, 64, 64, 320] becomes a batch of 2 transposes of 320 x 4096,
// so the kernels see the fewest dimensions (and the cheapest index arithmetic) the layout allows.
package dev.ldm4j.kernels;

import java.util.ArrayList;
import java.util.List;

record StridedLayout(long[] shape, long[][] strides) {

    /** shape with one stride vector per operand (each of shape's length). */
    static StridedLayout coalesce(int[] shape, long[]... operandStrides) {
        List<long[]> dims = new ArrayList<>();  // each: {size, stride of operand 0, stride of operand 1, ...}
        for (int a = 0; a < shape.length; a++) {
            if (shape[a] == 1) {
                continue;
            }
            long[] d = new long[1 + operandStrides.length];
            d[0] = shape[a];
            for (int o = 0; o < operandStrides.length; o++) {
                d[1 + o] = operandStrides[o][a];
            }
            if (!dims.isEmpty() && mergeable(dims.getLast(), d)) {
                long[] outer = dims.getLast();
                outer[0] *= d[0];
                for (int o = 1; o < d.length; o++) {
                    outer[o] = d[o];
                }
            } else {
                dims.add(d);
            }
        }
        if (dims.isEmpty()) {
            long[] d = new long[1 + operandStrides.length];
            d[0] = 1;
            dims.add(d);
        }
        long[] s = new long[dims.size()];
        long[][] st = new long[operandStrides.length][dims.size()];
        for (int i = 0; i < dims.size(); i++) {
            s[i] = dims.get(i)[0];
            for (int o = 0; o < operandStrides.length; o++) {
                st[o][i] = dims.get(i)[1 + o];
            }
        }
        return new StridedLayout(s, st);
    }

    private static boolean mergeable(long[] outer, long[] inner) {
        for (int o = 1; o < outer.length; o++) {
            if (outer[o] != inner[o] * inner[0]) {
                return false;
            }
        }
        return true;
    }

    int rank() {
        return shape.length;
    }

    long numel() {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return n;
    }

    /** True when every element offset the operands can reach fits in a 32-bit int. */
    boolean narrow() {
        if (numel() > Integer.MAX_VALUE) {
            return false;
        }
        for (long[] st : strides) {
            long reach = 0;
            for (int i = 0; i < shape.length; i++) {
                reach += (shape[i] - 1) * Math.abs(st[i]);
            }
            if (reach > Integer.MAX_VALUE) {
                return false;
            }
        }
        return true;
    }
}
