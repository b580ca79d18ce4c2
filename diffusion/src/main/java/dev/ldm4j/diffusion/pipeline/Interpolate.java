// Resizing of [N, C, H, W] planes as torch.nn.functional.interpolate does it with align_corners=False (the hires fix
// upscales latents this way, as A1111's "Latent" upscalers do): nearest (the source index floor(dst * in / out)),
// bilinear and bicubic (Keys' cubic convolution with a = -0.75, as PyTorch), on pixel centres
// src = (dst + 0.5) * in / out - 0.5. Bilinear clamps src at 0; bicubic reads rows and columns beyond the edge as
// the edge's. The scale in / out is a float, as PyTorch's CPU kernels compute it for float tensors.
package dev.ldm4j.diffusion.pipeline;

public final class Interpolate {
    private Interpolate() {
    }

    /** mode="nearest": each output sample is the input sample at floor(dst * in / out). */
    public static float[] nearest(float[] x, int planes, int h, int w, int outH, int outW) {
        int[] rows = new int[outH];
        int[] cols = new int[outW];
        for (int y = 0; y < outH; y++) {
            rows[y] = nearestIndex(y, h, outH);
        }
        for (int c = 0; c < outW; c++) {
            cols[c] = nearestIndex(c, w, outW);
        }
        float[] out = new float[planes * outH * outW];
        for (int p = 0; p < planes; p++) {
            for (int y = 0; y < outH; y++) {
                for (int c = 0; c < outW; c++) {
                    out[(p * outH + y) * outW + c] = x[(p * h + rows[y]) * w + cols[c]];
                }
            }
        }
        return out;
    }

    private static int nearestIndex(int dst, int in, int out) {
        float scale = (float) in / out;
        return Math.min((int) Math.floor(dst * scale), in - 1);
    }

    /** mode="bilinear": the two nearest rows and columns, weighted by distance. */
    public static float[] bilinear(float[] x, int planes, int h, int w, int outH, int outW) {
        float[] out = new float[planes * outH * outW];
        float sh = (float) h / outH;
        float sw = (float) w / outW;
        for (int y = 0; y < outH; y++) {
            float sy = Math.max(sh * (y + 0.5f) - 0.5f, 0f);
            int y0 = (int) sy;
            int y1 = y0 + (y0 < h - 1 ? 1 : 0);
            float ly = sy - y0;
            for (int c = 0; c < outW; c++) {
                float sx = Math.max(sw * (c + 0.5f) - 0.5f, 0f);
                int x0 = (int) sx;
                int x1 = x0 + (x0 < w - 1 ? 1 : 0);
                float lx = sx - x0;
                for (int p = 0; p < planes; p++) {
                    int at = p * h * w;
                    float top = (1 - lx) * x[at + y0 * w + x0] + lx * x[at + y0 * w + x1];
                    float bottom = (1 - lx) * x[at + y1 * w + x0] + lx * x[at + y1 * w + x1];
                    out[(p * outH + y) * outW + c] = (1 - ly) * top + ly * bottom;
                }
            }
        }
        return out;
    }

    /** mode="bicubic": 4 x 4 neighbours with Keys' cubic convolution weights, a = -0.75. */
    public static float[] bicubic(float[] x, int planes, int h, int w, int outH, int outW) {
        float[] out = new float[planes * outH * outW];
        float sh = (float) h / outH;
        float sw = (float) w / outW;
        for (int y = 0; y < outH; y++) {
            float sy = sh * (y + 0.5f) - 0.5f;
            int iy = (int) Math.floor(sy);
            float[] wy = cubicWeights(sy - iy);
            for (int c = 0; c < outW; c++) {
                float sx = sw * (c + 0.5f) - 0.5f;
                int ix = (int) Math.floor(sx);
                float[] wx = cubicWeights(sx - ix);
                for (int p = 0; p < planes; p++) {
                    int at = p * h * w;
                    float v = 0;
                    for (int i = 0; i < 4; i++) {
                        int row = at + clamp(iy - 1 + i, h) * w;
                        float r = 0;
                        for (int j = 0; j < 4; j++) {
                            r += wx[j] * x[row + clamp(ix - 1 + j, w)];
                        }
                        v += wy[i] * r;
                    }
                    out[(p * outH + y) * outW + c] = v;
                }
            }
        }
        return out;
    }

    /** The weights of the samples at offsets -1, 0, 1, 2 from floor(src), t = src - floor(src) (PyTorch's get_cubic_upsample_coefficients). */
    private static float[] cubicWeights(float t) {
        float a = -0.75f;
        return new float[] {outer(t + 1, a), inner(t, a), inner(1 - t, a), outer(2 - t, a)};
    }

    /** Keys' kernel for |s| <= 1: ((a + 2)|s| - (a + 3))|s|^2 + 1. */
    private static float inner(float s, float a) {
        return ((a + 2) * s - (a + 3)) * s * s + 1;
    }

    /** Keys' kernel for 1 < |s| < 2: ((a|s| - 5a)|s| + 8a)|s| - 4a. */
    private static float outer(float s, float a) {
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
    }

    private static int clamp(int i, int n) {
        return Math.max(0, Math.min(n - 1, i));
    }
}
