// The CPU backend: every Backend primitive on host memory, multithreaded over one fixed pool and
// vectorized with the Vector API where it pays. Heavy ops live in their own classes (Sgemm, Conv2d,
// Attention, Norms); small ones are here. CpuReference holds the plain scalar twin of every op.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Activation;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Device;
import dev.ldm4j.tensor.FloatStorage;
import dev.ldm4j.tensor.Tensor;

import java.util.Arrays;

public final class CpuBackend implements Backend {
    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    /** One task per thread of the team at a time; a task's own ops run serially on its thread (Parallel's rule for loops inside a loop). */
    @Override
    public void concurrently(int n, java.util.function.IntConsumer task) {
        Parallel.forEach(n, (i, worker) -> task.accept(i));
    }

    @Override
    public Tensor toDevice(Tensor host) {
        if (host.device() != Device.CPU) {
            throw new IllegalArgumentException("toDevice: " + host + " is not a host tensor");
        }
        return host;
    }

    @Override
    public Tensor toHost(Tensor t) {
        requireHost("toHost", t);
        return Tensor.of(Views.copy(t), t.shape());
    }

    @Override
    public Tensor contiguous(Tensor t) {
        requireHost("contiguous", t);
        return Views.dense(t);
    }

    /** toHost and contiguous accept every host dtype (integer tensors such as position ids widen too). */
    private static void requireHost(String op, Tensor t) {
        if (t == null || t.device() != Device.CPU) {
            throw new IllegalArgumentException(op + ": " + t + " is not a host tensor");
        }
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        String op = "matmul";
        Views.requireHostFloat(op, "a", a);
        Views.requireHostFloat(op, "b", b);
        if (a.rank() < 2 || b.rank() < 2) {
            throw Shapes.bad(op, "operands need rank >= 2, got " + Shapes.s(a) + " and " + Shapes.s(b));
        }
        int m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
        if (b.dim(-2) != k) {
            throw Shapes.bad(op, "inner dimensions differ: " + Shapes.s(a) + " x " + Shapes.s(b));
        }
        int[] batch = Shapes.broadcast(op, Arrays.copyOf(a.shape(), a.rank() - 2), Arrays.copyOf(b.shape(), b.rank() - 2));
        int[] outShape = Arrays.copyOf(batch, batch.length + 2);
        outShape[batch.length] = m;
        outShape[batch.length + 1] = n;
        int[] aShape = Arrays.copyOf(batch, batch.length + 2);
        aShape[batch.length] = m;
        aShape[batch.length + 1] = k;
        int[] bShape = Arrays.copyOf(batch, batch.length + 2);
        bShape[batch.length] = k;
        bShape[batch.length + 1] = n;
        Tensor ab = a.broadcastTo(aShape);
        Tensor bb = b.broadcastTo(bShape);
        int batches = Shapes.prod(batch, 0, batch.length);
        float[] out = new float[Math.toIntExact(Tensor.numel(outShape))];
        long[] as = ab.strides(), bs = bb.strides();
        int r = batch.length;
        boolean batchParallel = batches > 1 && (long) m * n * k < (1L << 22);
        Parallel.IndexBody one = (bi, worker) -> {
            long aOff = ab.offset(), bOff = bb.offset();
            int rem = bi;
            for (int d = r - 1; d >= 0; d--) {
                int i = rem % batch[d];
                rem /= batch[d];
                aOff += i * as[d];
                bOff += i * bs[d];
            }
            Sgemm.gemm(m, n, k,
                    Sgemm.packA(new Sgemm.Operand(ab.storage(), aOff, as[r], as[r + 1])),
                    Sgemm.packB(new Sgemm.Operand(bb.storage(), bOff, bs[r], bs[r + 1])),
                    out, bi * m * n, n, Sgemm.Epilogue.NONE, !batchParallel);
        };
        if (batchParallel) {
            Parallel.forEach(batches, one);
        } else {
            for (int bi = 0; bi < batches; bi++) {
                one.run(bi, 0);
            }
        }
        return Tensor.of(out, outShape);
    }

    @Override
    public Tensor linear(Tensor x, Tensor w, Tensor bias, Activation act) {
        String op = "linear";
        Views.requireHostFloat(op, "x", x);
        Views.requireHostFloat(op, "w", w);
        Shapes.requireRank(op, "w", w, 2);
        if (x.rank() < 1) {
            throw Shapes.bad(op, "x must have rank >= 1");
        }
        int k = x.dim(-1), n = w.dim(0);
        if (w.dim(1) != k) {
            throw Shapes.bad(op, "x " + Shapes.s(x) + " has " + k + " features, weight " + Shapes.s(w) + " expects " + w.dim(1));
        }
        Shapes.requireVector(op, "bias", bias, n);
        int m = Math.toIntExact(x.numel() / Math.max(1, k));
        if (k == 0) {
            m = Shapes.prod(x.shape(), 0, x.rank() - 1);
        }
        int[] outShape = x.shape();
        outShape[outShape.length - 1] = n;
        float[] out = new float[Math.toIntExact((long) m * n)];
        Views.Flat xf = Views.flat(x);
        Sgemm.Epilogue ep = new Sgemm.Epilogue(null, bias == null ? null : Views.copy(bias), act == null ? Activation.NONE : act);
        long[] ws = w.strides();
        Sgemm.gemm(m, n, k,
                Sgemm.packA(new Sgemm.Operand(new FloatStorage(xf.a()), xf.off(), k, 1)),
                Sgemm.packB(new Sgemm.Operand(w.storage(), w.offset(), ws[1], ws[0])),
                out, 0, n, ep);
        return Tensor.of(out, outShape);
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        Views.requireHostFloat("conv2d", "x", x);
        Views.requireHostFloat("conv2d", "w", w);
        return Conv2d.forward(x, w, bias, stride, padTop, padBottom, padLeft, padRight);
    }

    @Override
    public Tensor conv2dAdd(Tensor x, Tensor w, Tensor bias, int stride, int padTop, int padBottom, int padLeft, int padRight, Tensor residual) {
        Views.requireHostFloat("conv2dAdd", "x", x);
        Views.requireHostFloat("conv2dAdd", "w", w);
        Views.requireHostFloat("conv2dAdd", "residual", residual);
        if (!Conv2d.fits(x, w, stride, padTop, padBottom, padLeft, padRight, residual)) {
            // a residual that broadcasts (a ResNet's time embedding, [N, O, 1, 1]) is added afterwards
            return add(conv2d(x, w, bias, stride, padTop, padBottom, padLeft, padRight), residual);
        }
        return Conv2d.forward(x, w, bias, stride, padTop, padBottom, padLeft, padRight, residual);
    }

    @Override
    public Tensor conv2dBackwardInput(Tensor dy, Tensor w, int inH, int inW, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        Views.requireHostFloat("conv2dBackwardInput", "dy", dy);
        Views.requireHostFloat("conv2dBackwardInput", "w", w);
        return ConvBackward.input(dy, w, inH, inW, stride, padTop, padBottom, padLeft, padRight);
    }

    @Override
    public Tensor conv2dBackwardWeight(Tensor x, Tensor dy, int kh, int kw, int stride, int padTop, int padBottom, int padLeft, int padRight) {
        Views.requireHostFloat("conv2dBackwardWeight", "x", x);
        Views.requireHostFloat("conv2dBackwardWeight", "dy", dy);
        return ConvBackward.weight(x, dy, kh, kw, stride, padTop, padBottom, padLeft, padRight);
    }

    @Override
    public Tensor embeddingBackward(Tensor dy, int[] ids, int rows) {
        return ScatterAdd.embeddingBackward(dy, ids, rows);
    }

    @Override
    public Tensor zeros(int... shape) {
        return ScatterAdd.zeros(shape);
    }

    @Override
    public void accumulate(Tensor target, Tensor src) {
        ScatterAdd.accumulate(target, src);
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        Views.requireHostFloat("groupNorm", "x", x);
        return Norms.groupNorm(x, groups, gamma, beta, eps, silu);
    }

    // ---- backward of the norms, softmax, attention and pointwise ops (NormsBackward, AttentionBackward, PointwiseBackward)

    @Override
    public Tensor[] groupNormBackward(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu, Tensor dy) {
        Views.requireHostFloat("groupNormBackward", "x", x);
        Views.requireHostFloat("groupNormBackward", "dy", dy);
        return NormsBackward.groupNorm(x, groups, gamma, beta, eps, silu, dy);
    }

    @Override
    public Tensor[] layerNormBackward(Tensor x, Tensor gamma, float eps, Tensor dy) {
        Views.requireHostFloat("layerNormBackward", "x", x);
        Views.requireHostFloat("layerNormBackward", "dy", dy);
        return NormsBackward.layerNorm(x, gamma, eps, dy);
    }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor dy) {
        Views.requireHostFloat("softmaxBackward", "y", y);
        Views.requireHostFloat("softmaxBackward", "dy", dy);
        return NormsBackward.softmax(y, dy);
    }

    @Override
    public Tensor[] attentionBackward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor dOut, int heads, float scale, boolean causal) {
        String op = "attentionBackward";
        Views.requireHostFloat(op, "q", q);
        Views.requireHostFloat(op, "k", k);
        Views.requireHostFloat(op, "v", v);
        Views.requireHostFloat(op, "out", out);
        Views.requireHostFloat(op, "dOut", dOut);
        return AttentionBackward.backward(q, k, v, out, dOut, heads, scale, causal);
    }

    @Override
    public Tensor activationBackward(Tensor x, Tensor dy, Activation act) {
        Views.requireHostFloat("activationBackward", "x", x);
        Views.requireHostFloat("activationBackward", "dy", dy);
        return PointwiseBackward.activation(x, dy, act);
    }

    @Override
    public Tensor gegluBackward(Tensor x, Tensor dy) {
        Views.requireHostFloat("gegluBackward", "x", x);
        Views.requireHostFloat("gegluBackward", "dy", dy);
        return PointwiseBackward.geglu(x, dy);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        Views.requireHostFloat("layerNorm", "x", x);
        return Norms.layerNorm(x, gamma, beta, eps);
    }

    @Override
    public Tensor softmax(Tensor x) {
        Views.requireHostFloat("softmax", "x", x);
        return Norms.softmax(x);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        Views.requireHostFloat("attention", "q", q);
        Views.requireHostFloat("attention", "k", k);
        Views.requireHostFloat("attention", "v", v);
        return Attention.forward(q, k, v, heads, scale, causal);
    }

    @Override
    public Tensor activation(Tensor x, Activation act) {
        Views.requireHostFloat("activation", "x", x);
        float[] out = Views.copy(x);
        Activation a = act == null ? Activation.NONE : act;
        Parallel.forRange(out.length, 1 << 14, (from, to, worker) -> Pointwise.activate(out, from, to - from, a));
        return Tensor.of(out, x.shape());
    }

    @Override
    public Tensor geglu(Tensor x) {
        String op = "geglu";
        Views.requireHostFloat(op, "x", x);
        if (x.rank() < 1 || x.dim(-1) % 2 != 0) {
            throw Shapes.bad(op, "last dimension of x " + Shapes.s(x) + " must be even");
        }
        int two = x.dim(-1), f = two / 2;
        int rows = two == 0 ? 0 : Math.toIntExact(x.numel() / two);
        Views.Flat xf = Views.flat(x);
        float[] out = new float[rows * f];
        Parallel.forRange(rows, 8, (from, to, worker) -> {
            for (int r = from; r < to; r++) {
                int in = xf.off() + r * two;
                Pointwise.geglu(xf.a(), in, in + f, out, r * f, f);
            }
        });
        int[] shape = x.shape();
        shape[shape.length - 1] = f;
        return Tensor.of(out, shape);
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return binary("add", a, b, 0);
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return binary("sub", a, b, 1);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return binary("mul", a, b, 2);
    }

    /** Elementwise a (op) b with numpy broadcasting; op 0 = add, 1 = sub, 2 = mul. */
    private static Tensor binary(String name, Tensor a, Tensor b, int op) {
        Views.requireHostFloat(name, "a", a);
        Views.requireHostFloat(name, "b", b);
        int[] shape = Shapes.broadcast(name, a.shape(), b.shape());
        Tensor ah = Views.heap(a).broadcastTo(shape);
        Tensor bh = Views.heap(b).broadcastTo(shape);
        float[] out = new float[Math.toIntExact(Tensor.numel(shape))];
        if (out.length == 0) {
            return Tensor.of(out, shape);
        }
        // merge dimensions that are laid out consecutively in both operands
        int[] dims = new int[shape.length];
        long[] sa = new long[shape.length], sb = new long[shape.length];
        int r = 0;
        long[] as = ah.strides(), bs = bh.strides();
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] == 1) {
                continue;
            }
            if (r > 0 && sa[r - 1] == as[i] * shape[i] && sb[r - 1] == bs[i] * shape[i]) {
                dims[r - 1] *= shape[i];
                sa[r - 1] = as[i];
                sb[r - 1] = bs[i];
            } else {
                dims[r] = shape[i];
                sa[r] = as[i];
                sb[r] = bs[i];
                r++;
            }
        }
        if (r == 0) {
            dims[0] = 1;
            r = 1;
        }
        int inner = dims[r - 1];
        int sia = Math.toIntExact(sa[r - 1]), sib = Math.toIntExact(sb[r - 1]);
        int rows = out.length / inner;
        float[] x = ((FloatStorage) ah.storage()).data(), y = ((FloatStorage) bh.storage()).data();
        int rank = r;
        Parallel.forRange(rows, Math.max(1, (1 << 14) / inner), (from, to, worker) -> {
            for (int row = from; row < to; row++) {
                long pa = ah.offset(), pb = bh.offset();
                int rem = row;
                for (int d = rank - 2; d >= 0; d--) {
                    int i = rem % dims[d];
                    rem /= dims[d];
                    pa += i * sa[d];
                    pb += i * sb[d];
                }
                int ia = Math.toIntExact(pa), ib = Math.toIntExact(pb), o = row * inner;
                switch (op) {
                    case 0 -> {
                        for (int j = 0; j < inner; j++) {
                            out[o + j] = x[ia + j * sia] + y[ib + j * sib];
                        }
                    }
                    case 1 -> {
                        for (int j = 0; j < inner; j++) {
                            out[o + j] = x[ia + j * sia] - y[ib + j * sib];
                        }
                    }
                    default -> {
                        for (int j = 0; j < inner; j++) {
                            out[o + j] = x[ia + j * sia] * y[ib + j * sib];
                        }
                    }
                }
            }
        });
        return Tensor.of(out, shape);
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        Views.requireHostFloat("scale", "x", x);
        float[] out = Views.copy(x);
        Parallel.forRange(out.length, 1 << 15, (from, to, worker) -> {
            for (int i = from; i < to; i++) {
                out[i] *= s;
            }
        });
        return Tensor.of(out, x.shape());
    }

    @Override
    public Tensor clamp(Tensor x, float lo, float hi) {
        Views.requireHostFloat("clamp", "x", x);
        float[] out = Views.copy(x);
        Parallel.forRange(out.length, 1 << 15, (from, to, worker) -> {
            for (int i = from; i < to; i++) {
                out[i] = Math.min(Math.max(out[i], lo), hi);
            }
        });
        return Tensor.of(out, x.shape());
    }

    @Override
    public Tensor upsampleNearest2x(Tensor x) {
        String op = "upsampleNearest2x";
        Views.requireHostFloat(op, "x", x);
        Shapes.requireRank(op, "x", x, 4);
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        Views.Flat xf = Views.flat(x);
        float[] out = new float[Math.toIntExact(4L * x.numel())];
        Parallel.forRange(n * c, 4, (from, to, worker) -> {
            for (int plane = from; plane < to; plane++) {
                int in = xf.off() + plane * h * w;
                int o = plane * 4 * h * w;
                for (int y = 0; y < h; y++) {
                    int row = o + 2 * y * 2 * w;
                    for (int xx = 0; xx < w; xx++) {
                        float v = xf.a()[in + y * w + xx];
                        out[row + 2 * xx] = v;
                        out[row + 2 * xx + 1] = v;
                    }
                    System.arraycopy(out, row, out, row + 2 * w, 2 * w);
                }
            }
        });
        return Tensor.of(out, n, c, 2 * h, 2 * w);
    }

    /**
     * Nearest resize to outH x outW (PyTorch's rule, Shapes.nearestSource): per plane, each output row is
     * gathered once through the column table, and a row that reads the same source row as the one above
     * is a copy of it. Exact 2x goes to upsampleNearest2x.
     */
    @Override
    public Tensor upsampleNearest(Tensor x, int outH, int outW) {
        String op = "upsampleNearest";
        Views.requireHostFloat(op, "x", x);
        Shapes.requireResize(op, "x", x, outH, outW);
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        if (outH == 2 * h && outW == 2 * w) {
            return upsampleNearest2x(x);
        }
        int[] rows = Shapes.nearestSources(h, outH);
        int[] cols = Shapes.nearestSources(w, outW);
        Views.Flat xf = Views.flat(x);
        float[] out = new float[n * c * outH * outW];
        Parallel.forRange(n * c, 4, (from, to, worker) -> {
            for (int plane = from; plane < to; plane++) {
                int in = xf.off() + plane * h * w;
                int o = plane * outH * outW;
                for (int y = 0; y < outH; y++) {
                    int row = o + y * outW;
                    if (y > 0 && rows[y] == rows[y - 1]) {
                        System.arraycopy(out, row - outW, out, row, outW);
                        continue;
                    }
                    int src = in + rows[y] * w;
                    for (int xx = 0; xx < outW; xx++) {
                        out[row + xx] = xf.a()[src + cols[xx]];
                    }
                }
            }
        });
        return Tensor.of(out, n, c, outH, outW);
    }

    /**
     * Gradient of the nearest resize from inH x inW to dy's size: each source element sums the outputs
     * that read it (the same index tables as the forward; exact 2x included), per plane in parallel.
     */
    @Override
    public Tensor upsampleNearestBackward(Tensor dy, int inH, int inW) {
        String op = "upsampleNearestBackward";
        Views.requireHostFloat(op, "dy", dy);
        Shapes.requireResize(op, "dy", dy, inH, inW);
        int n = dy.dim(0), c = dy.dim(1), outH = dy.dim(2), outW = dy.dim(3);
        int[] rows = Shapes.nearestSources(inH, outH);
        int[] cols = Shapes.nearestSources(inW, outW);
        Views.Flat df = Views.flat(dy);
        float[] dx = new float[n * c * inH * inW];
        Parallel.forRange(n * c, 4, (from, to, worker) -> {
            for (int plane = from; plane < to; plane++) {
                int g = df.off() + plane * outH * outW;
                int o = plane * inH * inW;
                for (int y = 0; y < outH; y++) {
                    int row = o + rows[y] * inW;
                    int src = g + y * outW;
                    for (int xx = 0; xx < outW; xx++) {
                        dx[row + cols[xx]] += df.a()[src + xx];
                    }
                }
            }
        });
        return Tensor.of(dx, n, c, inH, inW);
    }

    @Override
    public Tensor concat(int dim, Tensor... parts) {
        String op = "concat";
        int[] shape = Shapes.concat(op, dim, parts);
        int d = dim < 0 ? dim + shape.length : dim;
        float[] out = new float[Math.toIntExact(Tensor.numel(shape))];
        int outer = Shapes.prod(shape, 0, d);
        int innerOut = Shapes.prod(shape, d, shape.length);
        int at = 0;
        for (Tensor p : parts) {
            Views.requireHostFloat(op, "part", p);
            Views.Flat pf = Views.flat(p);
            int inner = Shapes.prod(p.shape(), d, p.rank());
            for (int o = 0; o < outer; o++) {
                System.arraycopy(pf.a(), pf.off() + o * inner, out, o * innerOut + at, inner);
            }
            at += inner;
        }
        return Tensor.of(out, shape);
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift) {
        if (dim < 0) {
            throw Shapes.bad("timestepEmbedding", "negative dim " + dim);
        }
        int half = dim / 2;
        float[] out = new float[timesteps.length * dim];
        for (int t = 0; t < timesteps.length; t++) {
            for (int i = 0; i < half; i++) {
                double freq = Math.exp(-Math.log(10000.0) * i / (half - downscaleFreqShift));
                double arg = timesteps[t] * freq;
                double sin = Math.sin(arg), cos = Math.cos(arg);
                out[t * dim + i] = (float) (flipSinToCos ? cos : sin);
                out[t * dim + half + i] = (float) (flipSinToCos ? sin : cos);
            }
        }
        return Tensor.of(out, timesteps.length, dim);
    }

    @Override
    public Tensor embedding(Tensor table, int[] ids) {
        String op = "embedding";
        Views.requireHostFloat(op, "table", table);
        Shapes.requireRank(op, "table", table, 2);
        int v = table.dim(0), d = table.dim(1);
        float[] out = new float[ids.length * d];
        long[] st = table.strides();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= v) {
                throw Shapes.bad(op, "id " + ids[i] + " at position " + i + " is outside the table of " + v + " rows");
            }
            Views.copyRow(table.storage(), table.offset() + ids[i] * st[0], st[1], d, out, i * d);
        }
        return Tensor.of(out, ids.length, d);
    }

    @Override
    public Tensor sum(Tensor x, int dim) {
        return reduce("sum", x, dim, false);
    }

    @Override
    public Tensor mean(Tensor x, int dim) {
        return reduce("mean", x, dim, true);
    }

    private static Tensor reduce(String op, Tensor x, int dim, boolean mean) {
        Views.requireHostFloat(op, "x", x);
        int d = Shapes.axis(op, x, dim);
        int[] shape = x.shape();
        int outer = Shapes.prod(shape, 0, d), len = shape[d], inner = Shapes.prod(shape, d + 1, shape.length);
        Views.Flat xf = Views.flat(x);
        float[] out = new float[outer * inner];
        Reduce.sum(xf.a(), xf.off(), outer, len, inner, mean, out);
        shape[d] = 1;
        return Tensor.of(out, shape);
    }
}
