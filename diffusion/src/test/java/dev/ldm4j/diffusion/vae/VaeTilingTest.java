// VaeTiling on the tiny SD 1.x VAE (sample_size 128: latent tiles of 16 started every 12, blended over
// 32 pixels, cut to 96; image tiles of 128 started every 96, blended over 4 latents, cut to 12): a latent
// of one tile decodes exactly as the whole decode; larger ones equal an independent float64 version of
// diffusers' tiled_decode / _tiled_encode built from the VAE's own decodes of each tile (every tile first,
// then blend_v and blend_h in place, crop, concatenate), within 1e-5. Also prints how far the tiled image
// is from the whole-image decode, near the seams and away from them (the numbers in the README).
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Backends;
import dev.ldm4j.tensor.SharedFixtures;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.weights.Json;
import dev.ldm4j.weights.SafetensorsFile;
import dev.ldm4j.weights.WeightSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class VaeTilingTest {
    private static final double TOLERANCE = 1e-5;

    private static Backend backend;
    private static WeightSource weights;
    private static AutoencoderKL vae;

    @BeforeAll
    static void setUp() {
        assumeTrue(SharedFixtures.available(), "shared conformance fixtures absent");
        Path dir = SharedFixtures.conformance().resolve("sd1-tiny");
        backend = Backends.create("cpu");
        weights = SafetensorsFile.open(dir.resolve("vae/diffusion_pytorch_model.safetensors"));
        vae = new AutoencoderKL(Params.root(weights, backend), VaeConfig.fromJson(Json.parseObject(dir.resolve("vae/config.json"))));
    }

    @AfterAll
    static void tearDown() {
        if (weights != null) {
            weights.close();
        }
    }

    private static Tensor random(long seed, double scale, int... shape) {
        Random r = new Random(seed);
        float[] v = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (scale * r.nextGaussian());
        }
        return Tensor.of(v, shape);
    }

    @Test
    void tileSizesFollowTheConfig() {
        assertEquals(128, VaeTiling.sampleTile(vae.config()));
        assertEquals(16, VaeTiling.latentTile(vae.config()));
        assertFalse(VaeTiling.decodesTiled(vae.config(), 16, 16));
        assertTrue(VaeTiling.decodesTiled(vae.config(), 16, 17));
        assertEquals(64, VaeTiling.latentTile(VaeConfig.sd()));
    }

    @Test
    void latentOfOneTileDecodesWhole() {
        Tensor z = random(1, 1, 1, 4, 16, 12);
        assertArrayEquals(vae.decode(z).toFloatArray(), VaeTiling.decode(vae, z).toFloatArray());
    }

    @Test
    void tiledDecodeIsTheLinearBlendOfEachTilesDecode() {
        Tensor z = random(2, 1, 2, 4, 40, 28);                     // tiles at rows 0, 12, 24, 36 and columns 0, 12, 24
        float[] tiled = VaeTiling.decode(vae, z).toFloatArray();
        double[] expected = reference(z, 16, 12, 32, 96, vae::decode);
        assertEquals(expected.length, tiled.length);
        double worst = 0;
        for (int i = 0; i < tiled.length; i++) {
            worst = Math.max(worst, Math.abs(tiled[i] - expected[i]));
        }
        assertTrue(worst <= TOLERANCE, "largest difference from the float64 blend " + worst);

        float[] whole = vae.decode(z).toFloatArray();
        report("tiny SD 1.x VAE, 224x320 pixels, 4x3 tiles of 128", whole, tiled, 2 * 3, 320, 224, 96, 32);
    }

    @Test
    void tiledEncodeIsTheLinearBlendOfEachTilesMoments() {
        Tensor image = random(3, 0.5, 1, 3, 224, 160);              // tiles at rows 0, 96, 192 and columns 0, 96
        DiagonalGaussianDistribution tiled = VaeTiling.encode(vae, image);
        double[] moments = reference(image, 128, 96, 4, 12, vae::moments);
        int half = moments.length / 2;
        float[] mean = tiled.mean().toFloatArray();
        float[] logvar = tiled.logvar().toFloatArray();
        assertArrayEquals(new int[] {1, 4, 28, 20}, tiled.mean().shape());
        for (int i = 0; i < half; i++) {
            assertEquals(moments[i], mean[i], TOLERANCE, "mean " + i);
            assertEquals(Math.min(Math.max(moments[half + i], -30), 20), logvar[i], TOLERANCE, "logvar " + i);
        }
    }

    /**
     * diffusers' tiled_decode / _tiled_encode in float64 over f's float32 result for each tile: x [B, C, H, W]
     * cut into tiles of side tile every stride; all tiles computed first; then, row by row, each tile blended
     * in place with the (already blended) tile above over its first rows and the one to its left over its
     * first columns, cropped to limit x limit, and the crops concatenated. Returns [B, C', H', W'] flat.
     */
    private static double[] reference(Tensor x, int tile, int stride, int extent, int limit, UnaryOperator<Tensor> f) {
        int height = x.dim(2);
        int width = x.dim(3);
        List<List<double[][][]>> rows = new ArrayList<>();
        for (int i = 0; i < height; i += stride) {
            List<double[][][]> row = new ArrayList<>();
            for (int j = 0; j < width; j += stride) {
                Tensor part = backend.contiguous(x.slice(2, i, Math.min(i + tile, height)).slice(3, j, Math.min(j + tile, width)));
                Tensor r = f.apply(part);
                int planes = r.dim(0) * r.dim(1);
                int h = r.dim(2);
                int w = r.dim(3);
                float[] v = r.toFloatArray();
                double[][][] t = new double[planes][h][w];
                for (int p = 0; p < planes; p++) {
                    for (int y = 0; y < h; y++) {
                        for (int xx = 0; xx < w; xx++) {
                            t[p][y][xx] = v[(p * h + y) * w + xx];
                        }
                    }
                }
                row.add(t);
            }
            rows.add(row);
        }
        List<double[][][]> cropped = new ArrayList<>();
        int outH = 0;
        int outW = 0;
        for (int i = 0; i < rows.size(); i++) {
            for (int j = 0; j < rows.get(i).size(); j++) {
                double[][][] b = rows.get(i).get(j);
                if (i > 0) {
                    double[][][] a = rows.get(i - 1).get(j);
                    int e = Math.min(Math.min(a[0].length, b[0].length), extent);
                    for (int p = 0; p < b.length; p++) {
                        for (int y = 0; y < e; y++) {
                            for (int xx = 0; xx < b[p][y].length; xx++) {
                                b[p][y][xx] = a[p][a[p].length - e + y][xx] * (1 - (double) y / e) + b[p][y][xx] * ((double) y / e);
                            }
                        }
                    }
                }
                if (j > 0) {
                    double[][][] a = rows.get(i).get(j - 1);
                    int e = Math.min(Math.min(a[0][0].length, b[0][0].length), extent);
                    for (int p = 0; p < b.length; p++) {
                        for (int y = 0; y < b[p].length; y++) {
                            for (int xx = 0; xx < e; xx++) {
                                b[p][y][xx] = a[p][y][a[p][y].length - e + xx] * (1 - (double) xx / e) + b[p][y][xx] * ((double) xx / e);
                            }
                        }
                    }
                }
                cropped.add(b);
                if (i == 0) {
                    outW += Math.min(limit, b[0][0].length);
                }
            }
            outH += Math.min(limit, rows.get(i).get(0)[0].length);
        }
        int planes = cropped.get(0).length;
        double[] out = new double[planes * outH * outW];
        int k = 0;
        int y0 = 0;
        for (List<double[][][]> row : rows) {
            int x0 = 0;
            int keepH = 0;
            for (int j = 0; j < row.size(); j++) {
                double[][][] b = cropped.get(k++);
                keepH = Math.min(limit, b[0].length);
                int keepW = Math.min(limit, b[0][0].length);
                for (int p = 0; p < planes; p++) {
                    for (int y = 0; y < keepH; y++) {
                        for (int xx = 0; xx < keepW; xx++) {
                            out[(p * outH + y0 + y) * outW + x0 + xx] = b[p][y][xx];
                        }
                    }
                }
                x0 += keepW;
            }
            y0 += keepH;
        }
        return out;
    }

    /**
     * Prints the difference between the tiled and the whole decode in levels of the 8-bit image (x / 2 + 0.5
     * clamped to [0, 1], times 255, unrounded): over all samples, and split into samples within the blend bands (rows or columns
     * [k * cut, k * cut + blend) for k >= 1) and those outside them. Asserts that tiling did change the image.
     */
    private static double levels(float x) {
        return Math.min(Math.max(x / 2.0 + 0.5, 0), 1) * 255;
    }

    static void report(String what, float[] whole, float[] tiled, int planes, int h, int w, int cut, int blend) {
        double max = 0;
        double sum = 0;
        double seamMax = 0;
        double seamSum = 0;
        long seamCount = 0;
        double restMax = 0;
        double restSum = 0;
        long restCount = 0;
        for (int p = 0; p < planes; p++) {
            for (int y = 0; y < h; y++) {
                boolean seamRow = y >= cut && y % cut < blend;
                for (int x = 0; x < w; x++) {
                    boolean seam = seamRow || x >= cut && x % cut < blend;
                    int i = (p * h + y) * w + x;
                    double d = Math.abs(levels(whole[i]) - levels(tiled[i]));
                    max = Math.max(max, d);
                    sum += d;
                    if (seam) {
                        seamMax = Math.max(seamMax, d);
                        seamSum += d;
                        seamCount++;
                    } else {
                        restMax = Math.max(restMax, d);
                        restSum += d;
                        restCount++;
                    }
                }
            }
        }
        System.out.printf("%s: tiled vs whole decode, |difference| in 8-bit levels: max %.1f, mean %.2f; in the blend bands max %.1f,"
                        + " mean %.2f; elsewhere max %.1f, mean %.2f%n", what, max, sum / whole.length,
                seamMax, seamSum / Math.max(1, seamCount), restMax, restSum / Math.max(1, restCount));
        assertTrue(max > 0, "tiling changed nothing: were tiles used?");
    }
}
