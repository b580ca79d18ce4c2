// An n-dimensional view (shape, strides, offset) over a Storage. Views (reshape, permute, slice,
// broadcast) share storage and cost nothing; computation lives in a Backend.
package dev.ldm4j.tensor;

import java.util.Arrays;

public final class Tensor {
    private final Storage storage;
    private final int[] shape;
    private final long[] strides;
    private final long offset;

    public Tensor(Storage storage, int[] shape, long[] strides, long offset) {
        if (shape.length != strides.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " and strides " + Arrays.toString(strides) + " differ in rank");
        }
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
        }
        this.storage = storage;
        this.shape = shape.clone();
        this.strides = strides.clone();
        this.offset = offset;
    }

    /** A contiguous tensor over the whole storage. */
    public static Tensor of(Storage storage, int... shape) {
        long n = numel(shape);
        if (n != storage.size()) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has " + n + " elements, storage has " + storage.size());
        }
        return new Tensor(storage, shape, contiguousStrides(shape), 0);
    }

    /** A contiguous host F32 tensor wrapping the array (not copied). */
    public static Tensor of(float[] data, int... shape) {
        return of(new FloatStorage(data), shape);
    }

    /** A new zero-filled host F32 tensor. */
    public static Tensor zeros(int... shape) {
        return of(new float[Math.toIntExact(numel(shape))], shape);
    }

    public Storage storage() {
        return storage;
    }

    public DType dtype() {
        return storage.dtype();
    }

    public Device device() {
        return storage.device();
    }

    public int[] shape() {
        return shape.clone();
    }

    public long[] strides() {
        return strides.clone();
    }

    public long offset() {
        return offset;
    }

    public int rank() {
        return shape.length;
    }

    /** Size of dimension i; negative i counts from the end. */
    public int dim(int i) {
        return shape[axis(i)];
    }

    public long numel() {
        return numel(shape);
    }

    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) {
            n = Math.multiplyExact(n, (long) d);
        }
        return n;
    }

    public static long[] contiguousStrides(int... shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    /** True when elements are laid out row-major without gaps from offset on. */
    public boolean isContiguous() {
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != acc) {
                return false;
            }
            acc *= shape[i];
        }
        return true;
    }

    /** The backing array of a contiguous, offset-0, whole-storage host F32 tensor; throws otherwise. */
    public float[] data() {
        if (storage instanceof FloatStorage fs && offset == 0 && isContiguous() && fs.data().length == numel()) {
            return fs.data();
        }
        throw new IllegalStateException("tensor " + Arrays.toString(shape) + " (" + dtype() + ", " + device().label()
                + ") is not a dense host F32 tensor; call backend.contiguous() first");
    }

    private int axis(int i) {
        int a = i < 0 ? i + shape.length : i;
        if (a < 0 || a >= shape.length) {
            throw new IllegalArgumentException("axis " + i + " out of range for rank " + shape.length);
        }
        return a;
    }

    /** Same elements, new shape (one entry may be -1). Requires a contiguous tensor. */
    public Tensor reshape(int... newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException("more than one -1 in reshape " + Arrays.toString(newShape));
                }
                infer = i;
            } else {
                known *= s[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || numel() % known != 0) {
                throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
            }
            s[infer] = (int) (numel() / known);
        }
        if (numel(s) != numel()) {
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        }
        if (!isContiguous()) {
            throw new IllegalStateException("reshape of a non-contiguous view " + Arrays.toString(shape) + "; call backend.contiguous() first");
        }
        return new Tensor(storage, s, contiguousStrides(s), offset);
    }

    /** Reorders dimensions: result dim i is this tensor's dim order[i]. */
    public Tensor permute(int... order) {
        if (order.length != shape.length) {
            throw new IllegalArgumentException("permute " + Arrays.toString(order) + " for rank " + shape.length);
        }
        int[] s = new int[order.length];
        long[] st = new long[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int a = axis(order[i]);
            if (seen[a]) {
                throw new IllegalArgumentException("permute repeats axis " + a);
            }
            seen[a] = true;
            s[i] = shape[a];
            st[i] = strides[a];
        }
        return new Tensor(storage, s, st, offset);
    }

    public Tensor transpose(int a, int b) {
        int[] order = new int[shape.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        int x = axis(a), y = axis(b);
        order[x] = y;
        order[y] = x;
        return permute(order);
    }

    /** Elements start (inclusive) to end (exclusive) along dim. */
    public Tensor slice(int dim, int start, int end) {
        int a = axis(dim);
        if (start < 0 || end > shape[a] || start > end) {
            throw new IllegalArgumentException("slice [" + start + ", " + end + ") of dim " + a + " with size " + shape[a]);
        }
        int[] s = shape.clone();
        s[a] = end - start;
        return new Tensor(storage, s, strides, offset + start * strides[a]);
    }

    /** Broadcasts size-1 (or missing leading) dimensions to the given shape with stride 0. */
    public Tensor broadcastTo(int... target) {
        if (target.length < shape.length) {
            throw new IllegalArgumentException("cannot broadcast " + Arrays.toString(shape) + " to " + Arrays.toString(target));
        }
        int lead = target.length - shape.length;
        long[] st = new long[target.length];
        for (int i = 0; i < target.length; i++) {
            if (i < lead) {
                st[i] = 0;
                continue;
            }
            int d = shape[i - lead];
            if (d == target[i]) {
                st[i] = strides[i - lead];
            } else if (d == 1) {
                st[i] = 0;
            } else {
                throw new IllegalArgumentException("cannot broadcast " + Arrays.toString(shape) + " to " + Arrays.toString(target));
            }
        }
        return new Tensor(storage, target.clone(), st, offset);
    }

    /** Adds a size-1 dimension at position i. */
    public Tensor unsqueeze(int i) {
        int a = i < 0 ? i + shape.length + 1 : i;
        int[] s = new int[shape.length + 1];
        long[] st = new long[shape.length + 1];
        for (int j = 0, k = 0; j < s.length; j++) {
            if (j == a) {
                s[j] = 1;
                st[j] = (k < shape.length ? strides[k] * shape[k] : 1);
            } else {
                s[j] = shape[k];
                st[j] = strides[k];
                k++;
            }
        }
        return new Tensor(storage, s, st, offset);
    }

    /** Storage index of the element at the given logical index. */
    public long index(int... idx) {
        if (idx.length != shape.length) {
            throw new IllegalArgumentException("index of rank " + idx.length + " for tensor of rank " + shape.length);
        }
        long at = offset;
        for (int i = 0; i < idx.length; i++) {
            if (idx[i] < 0 || idx[i] >= shape[i]) {
                throw new IndexOutOfBoundsException("index " + Arrays.toString(idx) + " out of shape " + Arrays.toString(shape));
            }
            at += idx[i] * strides[i];
        }
        return at;
    }

    /** One element as float (host tensors only). */
    public float getFloat(int... idx) {
        return storage.getFloat(index(idx));
    }

    /** All elements in row-major logical order as a new float array (host tensors only; widens F16/BF16). */
    public float[] toFloatArray() {
        float[] out = new float[Math.toIntExact(numel())];
        if (out.length == 0) {
            return out;
        }
        if (storage instanceof FloatStorage fs && isContiguous()) {
            System.arraycopy(fs.data(), Math.toIntExact(offset), out, 0, out.length);
            return out;
        }
        if (storage instanceof SegmentStorage ss && isContiguous()
                && (ss.dtype() == DType.F16 || ss.dtype() == DType.BF16 || ss.dtype() == DType.F32)) {
            HalfConversion.toF32(ss.segment(), offset * ss.dtype().byteSize(), ss.dtype(), out, 0, out.length);
            return out;
        }
        int[] idx = new int[shape.length];
        for (int n = 0; n < out.length; n++) {
            long at = offset;
            for (int i = 0; i < idx.length; i++) {
                at += idx[i] * strides[i];
            }
            out[n] = storage.getFloat(at);
            for (int i = idx.length - 1; i >= 0; i--) {
                if (++idx[i] < shape[i]) {
                    break;
                }
                idx[i] = 0;
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype() + " " + device().label();
    }
}
