// Scalar twins of the CPU backend's conv2d gradients (ConvBackward), called by CpuReference: plain loops over
// logical indices with double accumulation, each output element computed on its own from the definition. Argument
// checks are the fast version's, so both reject the same calls the same way.
package dev.ldm4j.tensor.cpu;

import dev.ldm4j.tensor.Tensor;

final class ReferenceConvBackward {
    private ReferenceConvBackward() {
    }

    /**
     * dx[n, c, iy, ix] = sum over o, ky, kx of dy[n, o, oy, ox] w[o, c, ky, kx], where the forward read x[n, c, iy, ix]
     * at output (oy, ox) through tap (ky, kx): iy = oy * stride - pt + ky, ix = ox * stride - pl + kx.
     */
    static Tensor conv2dBackwardInput(Tensor dy, Tensor w, int inH, int inW, int stride, int pt, int pb, int pl, int pr) {
        ConvBackward.Dims d = ConvBackward.checkInput(dy, w, inH, inW, stride, pt, pb, pl, pr);
        int n = d.n(), c = d.c(), h = d.h(), wd = d.w(), o = d.o(), kh = d.kh(), kw = d.kw(), oh = d.oh(), ow = d.ow();
        float[] g = dy.toFloatArray(), wa = w.toFloatArray();
        float[] dx = new float[n * c * h * wd];
        for (int img = 0; img < n; img++) {
            for (int ci = 0; ci < c; ci++) {
                for (int iy = 0; iy < h; iy++) {
                    for (int ix = 0; ix < wd; ix++) {
                        double s = 0;
                        for (int oc = 0; oc < o; oc++) {
                            for (int ky = 0; ky < kh; ky++) {
                                int ty = iy + pt - ky;
                                if (ty < 0 || ty % stride != 0 || ty / stride >= oh) {
                                    continue;
                                }
                                for (int kx = 0; kx < kw; kx++) {
                                    int tx = ix + pl - kx;
                                    if (tx < 0 || tx % stride != 0 || tx / stride >= ow) {
                                        continue;
                                    }
                                    s += (double) g[((img * o + oc) * oh + ty / stride) * ow + tx / stride] * wa[((oc * c + ci) * kh + ky) * kw + kx];
                                }
                            }
                        }
                        dx[((img * c + ci) * h + iy) * wd + ix] = (float) s;
                    }
                }
            }
        }
        return Tensor.of(dx, n, c, h, wd);
    }

    /** dw[o, c, ky, kx] = sum over n, oy, ox of dy[n, o, oy, ox] x[n, c, oy * stride - pt + ky, ox * stride - pl + kx] (0 in the padding). */
    static Tensor conv2dBackwardWeight(Tensor x, Tensor dy, int kh, int kw, int stride, int pt, int pb, int pl, int pr) {
        ConvBackward.Dims d = ConvBackward.checkWeight(x, dy, kh, kw, stride, pt, pb, pl, pr);
        int n = d.n(), c = d.c(), h = d.h(), wd = d.w(), o = d.o(), oh = d.oh(), ow = d.ow();
        float[] xa = x.toFloatArray(), g = dy.toFloatArray();
        float[] dw = new float[o * c * kh * kw];
        for (int oc = 0; oc < o; oc++) {
            for (int ci = 0; ci < c; ci++) {
                for (int ky = 0; ky < kh; ky++) {
                    for (int kx = 0; kx < kw; kx++) {
                        double s = 0;
                        for (int img = 0; img < n; img++) {
                            for (int oy = 0; oy < oh; oy++) {
                                int iy = oy * stride - pt + ky;
                                if (iy < 0 || iy >= h) {
                                    continue;
                                }
                                for (int ox = 0; ox < ow; ox++) {
                                    int ix = ox * stride - pl + kx;
                                    if (ix >= 0 && ix < wd) {
                                        s += (double) g[((img * o + oc) * oh + oy) * ow + ox] * xa[((img * c + ci) * h + iy) * wd + ix];
                                    }
                                }
                            }
                        }
                        dw[((oc * c + ci) * kh + ky) * kw + kx] = (float) s;
                    }
                }
            }
        }
        return Tensor.of(dw, o, c, kh, kw);
    }
}
