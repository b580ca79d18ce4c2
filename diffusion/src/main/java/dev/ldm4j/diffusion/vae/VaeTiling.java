// Tiled decoding and encoding, as diffusers' AutoencoderKL.tiled_decode and _tiled_encode (what
// enable_vae_tiling switches on): the input is cut into overlapping square tiles, each tile runs through
// the VAE on its own, and each tile's first rows and columns are blended linearly into the tile above and
// the tile to its left before its top-left part is placed in the output. Peak memory is one tile's,
// whatever the image size; the image differs from the whole-image decode because each tile's group norms
// and mid-block attention see only that tile (README, "VAE tiling", gives the measured difference).
//
// Sizes, for a VAE with sample_size S and 2^(levels-1) = f (SD 1.x: S 512, f 8): decoding, latent tiles
// of T = S / f started every 0.75 T latents, blended over 0.25 S pixels and cut to S - 0.25 S pixels;
// encoding, image tiles of S started every 0.75 S pixels, blended over 0.25 T latents and cut to
// T - 0.25 T. The blends (blend_v, blend_h) write into the tile in place, and the tile above and the tile
// to the left are the already blended ones, so the order below (row by row, left to right, above first)
// is part of the result.
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.function.UnaryOperator;

public final class VaeTiling {
    /** diffusers' tile_overlap_factor. */
    public static final double OVERLAP_FACTOR = 0.25;

    private VaeTiling() {
    }

    /** tile_sample_min_size: the side of an image tile, the VAE config's sample_size. */
    public static int sampleTile(VaeConfig c) {
        return c.sampleSize();
    }

    /** tile_latent_min_size = int(sample_size / 2^(levels - 1)): the side of a latent tile. */
    public static int latentTile(VaeConfig c) {
        return (int) ((double) c.sampleSize() / c.downFactor());
    }

    /** Whether decoding a latent of h x w runs tiled (diffusers: a side larger than one latent tile). */
    public static boolean decodesTiled(VaeConfig c, int h, int w) {
        return h > latentTile(c) || w > latentTile(c);
    }

    /** z [B, latent, h, w] (unscaled) -> image [B, 3, 8h, 8w], decoded in tiles when a side is larger than one latent tile. */
    public static Tensor decode(AutoencoderKL vae, Tensor z) {
        VaeConfig c = vae.config();
        if (!decodesTiled(c, z.dim(2), z.dim(3))) {
            return vae.decode(z);
        }
        int tile = latentTile(c);
        int blend = (int) (sampleTile(c) * OVERLAP_FACTOR);
        return tiled(vae.backend(), z, tile, (int) (tile * (1 - OVERLAP_FACTOR)), c.downFactor(), 1, blend, sampleTile(c) - blend,
                vae::decode);
    }

    /** image [B, 3, H, W] in [-1, 1] -> posterior, encoded in tiles when a side is larger than one image tile. */
    public static DiagonalGaussianDistribution encode(AutoencoderKL vae, Tensor image) {
        VaeConfig c = vae.config();
        int tile = sampleTile(c);
        if (image.dim(2) <= tile && image.dim(3) <= tile) {
            return vae.encode(image);
        }
        int blend = (int) (latentTile(c) * OVERLAP_FACTOR);
        try (TensorScope scope = TensorScope.open()) {
            Tensor moments = tiled(vae.backend(), image, tile, (int) (tile * (1 - OVERLAP_FACTOR)), 1, c.downFactor(), blend,
                    latentTile(c) - blend, vae::moments);
            DiagonalGaussianDistribution d = vae.posterior(moments);                   // the moments are freed here
            scope.keep(d.mean());
            scope.keep(d.logvar());
            return d;
        }
    }

    /**
     * Runs f on tiles of x ([B, C, H, W] on the backend) of side tile started every stride, and assembles the
     * blended results: f maps an input of h x w to h * num / den x w * num / den. Only the previous row of
     * results is held.
     */
    static Tensor tiled(Backend backend, Tensor x, int tile, int stride, int num, int den, int blend, int limit,
                        UnaryOperator<Tensor> f) {
        int height = x.dim(2);
        int width = x.dim(3);
        int outH = height * num / den;
        int outW = width * num / den;
        int rows = (height + stride - 1) / stride;
        int cols = (width + stride - 1) / stride;
        Block[] above = null;
        float[] out = null;
        int outC = 0;
        int y0 = 0;
        for (int i = 0; i < rows; i++) {
            Block[] row = new Block[cols];
            int x0 = 0;
            for (int j = 0; j < cols; j++) {
                int ti = i * stride;
                int tj = j * stride;
                Tensor part = x.slice(2, ti, Math.min(ti + tile, height)).slice(3, tj, Math.min(tj + tile, width));
                Block b;
                try (TensorScope scope = TensorScope.open()) {
                    Tensor result = f.apply(backend.contiguous(part));                     // [B, C', th', tw']
                    b = new Block(result.dim(0) * result.dim(1), result.dim(2), result.dim(3), backend.toHost(result).toFloatArray());
                    if (out == null) {
                        outC = result.dim(1);
                        out = new float[result.dim(0) * outC * outH * outW];
                    }
                }
                if (i > 0) {
                    blendVertical(above[j], b, blend);
                }
                if (j > 0) {
                    blendHorizontal(row[j - 1], b, blend);
                }
                row[j] = b;
                int keepH = Math.min(limit, b.h);
                int keepW = Math.min(limit, b.w);
                for (int p = 0; p < b.planes; p++) {
                    for (int y = 0; y < keepH; y++) {
                        System.arraycopy(b.data, (p * b.h + y) * b.w, out, (p * outH + y0 + y) * outW + x0, keepW);
                    }
                }
                x0 += keepW;
            }
            y0 += Math.min(limit, row[0].h);
            above = row;
        }
        return backend.toDevice(Tensor.of(out, x.dim(0), outC, outH, outW));
    }

    /** One tile's result: planes (batch x channels) of h x w, row-major. */
    private record Block(int planes, int h, int w, float[] data) {
    }

    /**
     * blend_v: the first e = min(a.h, b.h, extent) rows of b become a's last e rows weighted 1 - y/e plus b's
     * weighted y/e (float32 products, as the tensor arithmetic). a and b have the same width.
     */
    private static void blendVertical(Block a, Block b, int extent) {
        int e = Math.min(Math.min(a.h, b.h), extent);
        for (int y = 0; y < e; y++) {
            float wb = (float) ((double) y / e);
            float wa = (float) (1 - (double) y / e);
            for (int p = 0; p < b.planes; p++) {
                int from = (p * a.h + a.h - e + y) * a.w;
                int to = (p * b.h + y) * b.w;
                for (int x = 0; x < b.w; x++) {
                    b.data[to + x] = a.data[from + x] * wa + b.data[to + x] * wb;
                }
            }
        }
    }

    /** blend_h: the same across the first e = min(a.w, b.w, extent) columns. a and b have the same height. */
    private static void blendHorizontal(Block a, Block b, int extent) {
        int e = Math.min(Math.min(a.w, b.w), extent);
        for (int x = 0; x < e; x++) {
            float wb = (float) ((double) x / e);
            float wa = (float) (1 - (double) x / e);
            for (int p = 0; p < b.planes; p++) {
                for (int y = 0; y < b.h; y++) {
                    int to = (p * b.h + y) * b.w + x;
                    b.data[to] = a.data[(p * a.h + y) * a.w + a.w - e + x] * wa + b.data[to] * wb;
                }
            }
        }
    }
}
