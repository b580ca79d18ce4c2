// Reverse-mode differentiation for any model written against Backend, without a second copy of the model
// code. AutogradBackend wraps a backend: every op runs on the inner backend, and when one of its inputs
// needs a gradient the op is noted on a tape with its backward rule. backward(loss) walks the tape from the
// end and hands each node the gradient of its output; the rule returns the gradients of its inputs, which
// are added into the gradient of the storage each input views. The whole of it is this file: the
// recording, the reverse walk, and the backward rule of every op (in the order Backend declares them).
//
// Gradients belong to storages, not to tensor objects. Model code makes views freely (reshape, permute,
// slice, broadcast) and those cost no op; an op's input may be any view of a parameter or of an earlier
// result. The gradient of a storage is a dense buffer of its size, and the gradient of a view is added
// into that buffer through the same shape, strides and offset (Backend.accumulate), so slices, transposes
// and zero-stride broadcasts need no rule of their own.
//
// Memory: a node keeps the tensors its rule reads (the inputs, sometimes the output) until backward has
// passed it; savedBytes() measures them. checkpoint() trades that memory for time: a block runs without
// recording, and is run again, recording, when backward reaches it (gradient checkpointing, Chen et al.
// 2016, "Training Deep Nets with Sublinear Memory Cost").
package dev.ldm4j.autograd;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.DType;
import dev.ldm4j.tensor.Device;
import dev.ldm4j.tensor.Storage;
import dev.ldm4j.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

public final class AutogradBackend implements Backend {
    /** The gradients of a node's inputs (null where an input needs none) from the gradient dy of its output. */
    @FunctionalInterface
    private interface Rule {
        Tensor[] apply(Tensor dy);
    }

    /** One recorded op: its output, its inputs (views as the op received them), and its backward rule. */
    private record Node(String op, Tensor out, Tensor[] inputs, Rule rule) {
    }

    /**
     * What one thread is recording: its tape, the storages of the results on it, its no-grad depth, and the
     * gradient buffers of the backward pass it is running. Each thread has its own, so that data-parallel
     * replicas (TrainingLoop) can run the same model objects on parts of a batch at the same time.
     */
    private static final class Recording {
        final Set<Storage> tracked = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Node> tape = new ArrayList<>();
        int noGradDepth;
        GradBuffers currentGrads;
    }

    private final Backend inner;
    /** The trainable storages; marked before training and only read while threads record. */
    private final Set<Storage> leaves = Collections.newSetFromMap(new IdentityHashMap<>());
    private final ThreadLocal<Recording> recordings = ThreadLocal.withInitial(Recording::new);
    private volatile boolean gradientCheckpointing;

    public AutogradBackend(Backend inner) {
        this.inner = inner;
    }

    public Backend inner() {
        return inner;
    }

    /** Marks t's storage as a leaf whose gradient backward() returns (a parameter, or an input to differentiate). */
    public Tensor requireGrad(Tensor t) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException("autograd: a trainable tensor must be F32, got " + t.dtype() + " " + Arrays.toString(t.shape()));
        }
        leaves.add(t.storage());
        return t;
    }

    /** Whether ops on t are recorded (t is a leaf, or the result of a recorded op). */
    public boolean requiresGrad(Tensor t) {
        return t != null && tracked(t.storage(), recordings.get());
    }

    /** Whether storage s is a leaf or the result of an op on r's tape. */
    private boolean tracked(Storage s, Recording r) {
        return leaves.contains(s) || r.tracked.contains(s);
    }

    /** Ops inside the returned scope are not recorded (evaluation, sampling); scopes nest. */
    public NoGrad noGrad() {
        Recording r = recordings.get();
        r.noGradDepth++;
        return new NoGrad(r);
    }

    public final class NoGrad implements AutoCloseable {
        private final Recording recording;
        private boolean closed;

        private NoGrad(Recording recording) {
            this.recording = recording;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                recording.noGradDepth--;
            }
        }
    }

    /** Forgets this thread's tape and recorded results (the leaves stay marked); call after each step. */
    public void clearTape() {
        Recording r = recordings.get();
        r.tape = new ArrayList<>();
        r.tracked.clear();
    }

    /** Number of ops on this thread's tape. */
    public int tapeLength() {
        return recordings.get().tape.size();
    }

    /**
     * Bytes of the activations the tape keeps alive for backward: every distinct non-leaf storage that a
     * node holds (its inputs and output), at 4 bytes per F32 element. Weights are not counted.
     */
    public long savedBytes() {
        Set<Storage> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        long bytes = 0;
        for (Node n : recordings.get().tape) {
            for (Tensor t : n.inputs) {
                bytes += count(seen, t);
            }
            bytes += count(seen, n.out);
        }
        return bytes;
    }

    private long count(Set<Storage> seen, Tensor t) {
        if (t == null || leaves.contains(t.storage()) || !seen.add(t.storage())) {
            return 0;
        }
        return t.storage().size() * t.dtype().byteSize();
    }

    /**
     * Turns gradient checkpointing of the blocks model code marks with checkpoint() on or off (off by
     * default: every intermediate is kept, and backward needs no second forward).
     */
    public void setGradientCheckpointing(boolean on) {
        gradientCheckpointing = on;
    }

    /**
     * With gradient checkpointing on, runs block(inputs) without keeping its intermediates, and records one
     * node whose backward runs the block again with recording and walks that short tape: the activation
     * memory of the block is held only while backward passes through it. block must be deterministic (no
     * random draws). With it off, the block is recorded op by op as usual.
     */
    @Override
    public Tensor checkpoint(Function<Tensor[], Tensor> block, Tensor... inputs) {
        Recording r = recordings.get();
        if (!gradientCheckpointing || r.noGradDepth > 0 || leaves.isEmpty()) {
            return block.apply(inputs);
        }
        Tensor out;
        try (NoGrad ignored = noGrad()) {
            out = block.apply(inputs);
        }
        r.tape.add(new Node("checkpoint", out, inputs, dy -> {
            List<Node> outer = r.tape;
            r.tape = new ArrayList<>();
            try {
                Tensor again = block.apply(inputs);
                if (requiresGrad(again)) {
                    walk(r, r.tape, again, dy, r.currentGrads);
                }
            } finally {
                r.tape = outer;
            }
            return new Tensor[inputs.length];
        }));
        r.tracked.add(out.storage());
        return out;
    }

    /** The gradients of a backward pass: one dense buffer per leaf storage. */
    public final class Gradients {
        private final Map<Storage, Tensor> byStorage;

        private Gradients(Map<Storage, Tensor> byStorage) {
            this.byStorage = byStorage;
        }

        /** The gradient of leaf t, shaped like t (zeros when the loss does not depend on it). */
        public Tensor of(Tensor t) {
            Tensor g = byStorage.get(t.storage());
            if (g == null) {
                return inner.zeros(t.shape());
            }
            return new Tensor(g.storage(), t.shape(), t.strides(), t.offset());
        }

        /** Whether the loss reached leaf t at all. */
        public boolean reached(Tensor t) {
            return byStorage.containsKey(t.storage());
        }
    }

    /**
     * The gradient buffers of one backward pass, by storage, and the storages those buffers live in. A buffer
     * is made on a storage's first contribution: that contribution itself when it is a fresh dense tensor of
     * the storage's size that nothing else holds (most are: a kernel's result), otherwise zeros it is added
     * into. Adopting the first contribution saves the zeroing pass and the add, and gives the same sums
     * (0 + a = a).
     */
    private final class GradBuffers {
        final Recording recording;
        final Map<Storage, Tensor> byStorage = new IdentityHashMap<>();
        /** Storages that are some storage's gradient buffer now, and so must not become another's. */
        final Set<Storage> held = Collections.newSetFromMap(new IdentityHashMap<>());

        GradBuffers(Recording recording) {
            this.recording = recording;
        }

        /** The gradient buffer of storage s, taken off the map (s's node is being walked; s is not a leaf). */
        Tensor take(Storage s) {
            Tensor g = byStorage.remove(s);
            if (g != null) {
                held.remove(g.storage());
            }
            return g;
        }

        /** Adds src into the part of t's storage gradient that t's view covers. */
        void add(Tensor t, Tensor src) {
            Tensor buffer = byStorage.get(t.storage());
            if (buffer == null) {
                int size = Math.toIntExact(t.storage().size());
                if (adoptable(t, src, size)) {
                    buffer = src.reshape(size);
                    byStorage.put(t.storage(), buffer);
                    held.add(buffer.storage());
                    return;
                }
                buffer = inner.zeros(size);
                byStorage.put(t.storage(), buffer);
                held.add(buffer.storage());
            }
            inner.accumulate(new Tensor(buffer.storage(), t.shape(), t.strides(), t.offset()), src);
        }

        /**
         * Whether src can be t's storage gradient as it is: t covers its whole storage densely, src has t's
         * shape and is a whole dense F32 tensor of the inner backend, and src's storage is no gradient buffer
         * and no recorded tensor (a kernel's fresh result, or the buffer of a node already walked).
         */
        private boolean adoptable(Tensor t, Tensor src, int size) {
            return t.offset() == 0 && t.numel() == size && t.isContiguous()
                    && src.offset() == 0 && src.storage().size() == size && src.isContiguous()
                    && Arrays.equals(src.shape(), t.shape())
                    && src.dtype() == DType.F32 && src.device() == inner.device()
                    && !held.contains(src.storage()) && !tracked(src.storage(), recording);
        }
    }

    /**
     * Gradients of the scalar loss (one element) with respect to every leaf, by the reverse walk of the tape.
     * The tape is consumed: call clearTape() before the next forward.
     */
    public Gradients backward(Tensor loss) {
        if (loss.numel() != 1) {
            throw new IllegalArgumentException("autograd: backward needs a scalar loss, got shape " + Arrays.toString(loss.shape()));
        }
        if (!requiresGrad(loss)) {
            throw new IllegalStateException("autograd: the loss does not depend on any tensor that requires a gradient");
        }
        Recording r = recordings.get();
        GradBuffers grads = new GradBuffers(r);
        r.currentGrads = grads;
        try {
            walk(r, r.tape, loss, inner.toDevice(Tensor.of(new float[] {1f}, loss.shape())), grads);
        } finally {
            r.currentGrads = null;
        }
        Map<Storage, Tensor> leafGrads = new IdentityHashMap<>();
        for (Map.Entry<Storage, Tensor> e : grads.byStorage.entrySet()) {
            if (leaves.contains(e.getKey())) {
                leafGrads.put(e.getKey(), e.getValue());
            }
        }
        r.tape = new ArrayList<>();
        return new Gradients(leafGrads);
    }

    /** Seeds the gradient of root with seed, then runs the rules of nodes in reverse order, accumulating into grads. */
    private void walk(Recording r, List<Node> nodes, Tensor root, Tensor seed, GradBuffers grads) {
        grads.add(root, seed);
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node node = nodes.get(i);
            Tensor g = leaves.contains(node.out.storage()) ? grads.byStorage.get(node.out.storage()) : grads.take(node.out.storage());
            if (g == null) {
                continue;
            }
            Tensor dy = new Tensor(g.storage(), node.out.shape(), node.out.strides(), node.out.offset());
            Tensor[] dIn = node.rule.apply(dy);
            for (int k = 0; k < node.inputs.length; k++) {
                Tensor in = node.inputs[k];
                if (dIn[k] != null && in != null && tracked(in.storage(), r)) {
                    grads.add(in, dIn[k]);
                }
            }
            nodes.set(i, null);
        }
    }

    // ---- Recording

    private boolean recording(Recording r, Tensor... inputs) {
        if (r.noGradDepth > 0) {
            return false;
        }
        for (Tensor t : inputs) {
            if (t != null && tracked(t.storage(), r)) {
                return true;
            }
        }
        return false;
    }

    /** Notes out as the result of op on inputs when any input is tracked; returns out. */
    private Tensor record(String op, Tensor out, Rule rule, Tensor... inputs) {
        Recording r = recordings.get();
        if (!recording(r, inputs)) {
            return out;
        }
        for (Tensor in : inputs) {
            if (in != null && in.storage() == out.storage()) {
                return out; // the op returned its input's storage itself (a no-op copy): the gradient is already shared
            }
        }
        r.tape.add(new Node(op, out, inputs, rule));
        r.tracked.add(out.storage());
        return out;
    }

    /** g [..] summed over the dimensions that broadcasting added to reach g's shape from shape. */
    private Tensor sumTo(Tensor g, int[] shape) {
        Tensor r = g;
        while (r.rank() > shape.length) {
            r = inner.sum(r, 0);
            r = r.reshape(Arrays.copyOfRange(r.shape(), 1, r.rank()));
        }
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1 && r.dim(d) != 1) {
                r = inner.sum(r, d);
            }
        }
        return r;
    }

    private Tensor dense(Tensor t) {
        return t.isContiguous() ? t : inner.contiguous(t);
    }

    // ---- Ops, each with its backward rule

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public Device device() {
        return inner.device();
    }

    @Override
    public Tensor toDevice(Tensor host) {
        return record("toDevice", inner.toDevice(host), dy -> new Tensor[] {dy}, host);
    }

    @Override
    public Tensor toDeviceWeight(Tensor host) {
        return record("toDeviceWeight", inner.toDeviceWeight(host), dy -> new Tensor[] {dy}, host);
    }

    @Override
    public Tensor toHost(Tensor t) {
        return record("toHost", inner.toHost(t), dy -> new Tensor[] {dy}, t);
    }

    @Override
    public Tensor contiguous(Tensor t) {
        return record("contiguous", inner.contiguous(t), dy -> new Tensor[] {dy}, t);
    }

    /** C = A B: dA = dC B^T, dB = A^T dC, each summed over the batch dimensions it was broadcast along. */
    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        Tensor out = inner.matmul(a, b);
        return record("matmul", out, dy -> new Tensor[] {
                requiresGrad(a) ? sumTo(inner.matmul(dy, b.transpose(-2, -1)), a.shape()) : null,
                requiresGrad(b) ? sumTo(inner.matmul(a.transpose(-2, -1), dy), b.shape()) : null}, a, b);
    }

    /** y = x W^T + b: dx = dy W, dW = dy^T x (over all rows), db = the column sums of dy. An activation is its own node. */
    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias, Activation act) {
        if (act != null && act != Activation.NONE && recording(recordings.get(), x, w, bias)) {
            return activation(linear(x, w, bias, Activation.NONE), act);
        }
        Tensor out = inner.linear(x, w, bias, act);
        return record("linear", out, dy -> {
            int n = w.dim(0), k = w.dim(1);
            int rows = Math.toIntExact(x.numel() / k);
            Tensor g = dense(dy).reshape(rows, n);                          // [M, N]
            Tensor dx = requiresGrad(x) ? inner.matmul(g, w).reshape(x.shape()) : null;            // [M, K]
            Tensor dw = requiresGrad(w) ? inner.matmul(g.transpose(0, 1), dense(x).reshape(rows, k)) : null; // [N, K]
            Tensor db = requiresGrad(bias) ? inner.sum(g, 0).reshape(n) : null;                    // [N]
            return new Tensor[] {dx, dw, db};
        }, x, w, bias);
    }

    /** dx is a transposed convolution of dy with w, dw the correlation of x with dy, db the sum of dy over N, H, W. */
    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        Tensor out = inner.conv2d(x, w, bias, stride, padTop, padBottom, padLeft, padRight);
        return record("conv2d", out, dy -> new Tensor[] {
                requiresGrad(x) ? inner.conv2dBackwardInput(dy, w, x.dim(2), x.dim(3), stride, padTop, padBottom, padLeft, padRight) : null,
                requiresGrad(w) ? inner.conv2dBackwardWeight(x, dy, w.dim(2), w.dim(3), stride, padTop, padBottom, padLeft, padRight) : null,
                requiresGrad(bias) ? inner.sum(inner.sum(dense(dy).reshape(dy.dim(0), dy.dim(1), dy.dim(2) * dy.dim(3)), 2), 0).reshape(dy.dim(1)) : null},
                x, w, bias);
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        Tensor out = inner.groupNorm(x, groups, gamma, beta, eps, silu);
        return record(silu ? "groupNorm+silu" : "groupNorm", out,
                dy -> inner.groupNormBackward(x, groups, gamma, beta, eps, silu, dy), x, gamma, beta);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        Tensor out = inner.layerNorm(x, gamma, beta, eps);
        return record("layerNorm", out, dy -> inner.layerNormBackward(x, gamma, eps, dy), x, gamma, beta);
    }

    @Override
    public Tensor softmax(Tensor x) {
        Tensor out = inner.softmax(x);
        return record("softmax", out, dy -> new Tensor[] {inner.softmaxBackward(out, dy)}, x);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        Tensor out = inner.attention(q, k, v, heads, scale, causal);
        return record("attention", out, dy -> inner.attentionBackward(q, k, v, out, dy, heads, scale, causal), q, k, v);
    }

    @Override
    public Tensor activation(Tensor x, Activation act) {
        Tensor out = inner.activation(x, act);
        return record("activation", out, dy -> new Tensor[] {inner.activationBackward(x, dy, act)}, x);
    }

    @Override
    public Tensor geglu(Tensor x) {
        Tensor out = inner.geglu(x);
        return record("geglu", out, dy -> new Tensor[] {inner.gegluBackward(x, dy)}, x);
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        Tensor out = inner.add(a, b);
        return record("add", out, dy -> new Tensor[] {
                requiresGrad(a) ? sumTo(dy, a.shape()) : null,
                requiresGrad(b) ? sumTo(dy, b.shape()) : null}, a, b);
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        Tensor out = inner.sub(a, b);
        return record("sub", out, dy -> new Tensor[] {
                requiresGrad(a) ? sumTo(dy, a.shape()) : null,
                requiresGrad(b) ? sumTo(inner.scale(dy, -1f), b.shape()) : null}, a, b);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        Tensor out = inner.mul(a, b);
        return record("mul", out, dy -> new Tensor[] {
                requiresGrad(a) ? sumTo(inner.mul(dy, b), a.shape()) : null,
                requiresGrad(b) ? sumTo(inner.mul(dy, a), b.shape()) : null}, a, b);
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        return record("scale", inner.scale(x, s), dy -> new Tensor[] {inner.scale(dy, s)}, x);
    }

    /** PyTorch's clamp gradient: dy where lo <= x <= hi, zero outside (the mask is made on the host). */
    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        Tensor out = inner.clamp(x, lo, hi);
        return record("clamp", out, dy -> {
            float[] v = inner.toHost(x).data();
            float[] mask = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                mask[i] = v[i] >= lo && v[i] <= hi ? 1f : 0f;
            }
            return new Tensor[] {inner.mul(dy, inner.toDevice(Tensor.of(mask, x.shape())))};
        }, x);
    }

    /**
     * e^x elementwise, differentiable (d/dx = e^x, the output itself). Not a Backend primitive: computed on the
     * host, for the small tensors that need it (the VAE posterior's standard deviation and variance).
     */
    public Tensor exp(Tensor x) {
        float[] v = inner.toHost(x).data();
        float[] e = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            e[i] = (float) Math.exp(v[i]);
        }
        Tensor out = inner.toDevice(Tensor.of(e, x.shape()));
        return record("exp", out, dy -> new Tensor[] {inner.mul(dy, out)}, x);
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        Tensor out = inner.upsampleNearest2x(x);
        return record("upsampleNearest2x", out, dy -> new Tensor[] {inner.upsampleNearestBackward(dy, x.dim(2), x.dim(3))}, x);
    }

    @Override
    public Tensor upsampleNearest(Tensor x, int outH, int outW) {
        Tensor out = inner.upsampleNearest(x, outH, outW);
        return record("upsampleNearest", out, dy -> new Tensor[] {inner.upsampleNearestBackward(dy, x.dim(2), x.dim(3))}, x);
    }

    /** Each part's gradient is its slice of dy, a view: accumulate adds it through the slice's strides. */
    @Override
    public Tensor concat(int dim, Tensor... parts) {
        Tensor out = inner.concat(dim, parts);
        int d = dim < 0 ? dim + out.rank() : dim;
        return record("concat", out, dy -> {
            Tensor[] g = new Tensor[parts.length];
            int at = 0;
            for (int i = 0; i < parts.length; i++) {
                int len = parts[i].dim(d);
                g[i] = dy.slice(d, at, at + len);
                at += len;
            }
            return g;
        }, parts);
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift) {
        return inner.timestepEmbedding(timesteps, dim, flipSinToCos, downscaleFreqShift);
    }

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        Tensor out = inner.embedding(table, ids);
        int[] copy = ids.clone();
        return record("embedding", out, dy -> new Tensor[] {inner.embeddingBackward(dy, copy, table.dim(0))}, table);
    }

    /** The sum's gradient reaches every summed element: dy broadcast back along dim (a zero-stride view). */
    @Override
    public Tensor sum(Tensor x, int dim) {
        Tensor out = inner.sum(x, dim);
        return record("sum", out, dy -> new Tensor[] {dy.broadcastTo(x.shape())}, x);
    }

    @Override
    public Tensor mean(Tensor x, int dim) {
        Tensor out = inner.mean(x, dim);
        int len = x.dim(dim);
        return record("mean", out, dy -> new Tensor[] {inner.scale(dy, 1f / len).broadcastTo(x.shape())}, x);
    }

    // ---- Backward primitives and memory: straight to the inner backend (no second-order gradients).

    @Override
    public Tensor zeros(int... shape) {
        return inner.zeros(shape);
    }

    @Override
    public void accumulate(Tensor target, Tensor src) {
        inner.accumulate(target, src);
    }

    /** Intermediates may be saved for backward, so model code's early releases are ignored while training. */
    @Override
    public void release(Tensor t) {
    }

    /** The inner backend's threads; each task records on its own thread's tape. */
    @Override
    public void concurrently(int n, java.util.function.IntConsumer task) {
        inner.concurrently(n, task);
    }

    @Override
    public long peakDeviceMemoryBytes() {
        return inner.peakDeviceMemoryBytes();
    }

    @Override
    public void close() {
        inner.close();
    }
}
