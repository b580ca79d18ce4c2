// The Java examples of docs/examples, compiled (javax.tools, against this module's test class path) and run on the
// built-in shapes model, so that they cannot fall behind the API: example 1 writes a real PNG and is the README's
// snippet word for word; example 2, the custom Euler sampler, lands where the built-in euler scheduler does.
// Also the facade's own promises: built-in lookup, its errors, and score/denoise agreeing with Tweedie's formula.
package dev.ldm4j.diffusion.pipeline;

import dev.ldm4j.diffusion.model.ModelException;
import dev.ldm4j.diffusion.schedulers.Scheduler;
import dev.ldm4j.tensor.SharedFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class JavaApiExamplesTest {
    private static Path root;              // the project folder (holding docs/ and models/)
    private static URLClassLoader examples;

    @BeforeAll
    static void compileExamples(@TempDir Path tmp) throws IOException {
        root = Path.of("").toAbsolutePath();
        while (root != null && !Files.isDirectory(root.resolve("docs/examples"))) {
            root = root.getParent();
        }
        assertNotNull(root, "no docs/examples above " + Path.of("").toAbsolutePath());
        List<String> args = new ArrayList<>(List.of("-d", tmp.toString(), "-classpath", System.getProperty("java.class.path"),
                "--add-modules", "jdk.incubator.vector", "-Xlint:all,-incubating", "-Werror", "-proc:none"));
        try (Stream<Path> s = Files.list(root.resolve("docs/examples"))) {
            s.filter(p -> p.toString().endsWith(".java")).sorted().forEach(p -> args.add(p.toString()));
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assertNotNull(javac, "this JVM has no compiler (a JRE?); the examples need a JDK");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = javac.run(null, err, err, args.toArray(String[]::new));
        assertEquals(0, rc, "docs/examples do not compile:\n" + err.toString(StandardCharsets.UTF_8));
        examples = new URLClassLoader(new URL[] {tmp.toUri().toURL()}, JavaApiExamplesTest.class.getClassLoader());
    }

    @AfterAll
    static void closeLoader() throws IOException {
        if (examples != null) {
            examples.close();
        }
    }

    private static Method method(String className, String name, Class<?>... parameters) throws ReflectiveOperationException {
        return examples.loadClass(className).getMethod(name, parameters);
    }

    @Test
    void generateImageExampleWritesAShapesPng(@TempDir Path tmp) throws Exception {
        Path png = tmp.resolve("out.png");
        method("GenerateImage", "main", String[].class).invoke(null, (Object) new String[] {png.toString()});
        BufferedImage read = ImageIO.read(png.toFile());
        assertNotNull(read, "not a PNG: " + png);
        assertEquals(64, read.getWidth());
        assertEquals(64, read.getHeight());
        // A red shape on white, not a flat field: between 1% and 50% of the pixels red (R > 150, G and B < 100), over
        // half white (every channel above 200).
        int red = 0;
        int white = 0;
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                int rgb = read.getRGB(x, y);
                int r = rgb >> 16 & 0xff;
                int g = rgb >> 8 & 0xff;
                int b = rgb & 0xff;
                red += r > 150 && g < 100 && b < 100 ? 1 : 0;
                white += r > 200 && g > 200 && b > 200 ? 1 : 0;
            }
        }
        assertTrue(red > 0.01 * 64 * 64 && red < 0.5 * 64 * 64, red + " red pixels of " + 64 * 64);
        assertTrue(white > 0.5 * 64 * 64, white + " white pixels of " + 64 * 64);
    }

    @Test
    void readmeShowsExampleOneAsItIs() throws IOException {
        String source = Files.readString(root.resolve("docs/examples/GenerateImage.java"));
        String begin = "// [readme-snippet]\n";
        String end = "// [/readme-snippet]";
        int from = source.indexOf(begin);
        int to = source.indexOf(end);
        assertTrue(from >= 0 && to > from, "GenerateImage.java lost its readme-snippet lines");
        String snippet = dedent(source.substring(source.indexOf('\n', from) + 1, source.lastIndexOf('\n', to) + 1));
        String readme = Files.readString(root.resolve("README.md"));
        assertTrue(readme.contains("```java\n" + snippet + "```\n"),
                "README.md's \"Use from Java\" snippet differs from docs/examples/GenerateImage.java; paste this there:\n" + snippet);
    }

    /** The lines with their common leading spaces removed. */
    private static String dedent(String text) {
        List<String> lines = text.lines().toList();
        int indent = lines.stream().filter(l -> !l.isBlank()).mapToInt(l -> l.length() - l.stripLeading().length()).min().orElse(0);
        StringBuilder sb = new StringBuilder();
        for (String l : lines) {
            sb.append(l.isBlank() ? "" : l.substring(indent)).append('\n');
        }
        return sb.toString();
    }

    @Test
    @SuppressWarnings("unchecked")
    void attentionMapsExampleGivesEachWordAMapAndTheShapeWordLooksAtTheShape() throws Exception {
        Object traced = method("AttentionMaps", "trace", String.class, long.class).invoke(null, "a red circle in the top left", 1L);
        RgbImage image = (RgbImage) traced.getClass().getMethod("image").invoke(traced);
        java.util.Map<String, float[]> maps = (java.util.Map<String, float[]>) traced.getClass().getMethod("maps").invoke(traced);
        assertEquals(List.of("a", "red", "circle", "in", "the", "top", "left"), List.copyOf(maps.keySet()));
        int w = image.width();
        int h = image.height();
        // The drawn object: the pixels more than 0.2 away from the background colour (each channel's median: the object
        // covers less than half of the image) in some channel.
        float[] background = new float[3];
        for (int c = 0; c < 3; c++) {
            float[] channel = new float[w * h];
            for (int i = 0; i < w * h; i++) {
                channel[i] = image.get(i % w, i / w, c);
            }
            java.util.Arrays.sort(channel);
            background[c] = channel[w * h / 2];
        }
        int x0 = w, y0 = h, x1 = -1, y1 = -1;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int c = 0; c < 3; c++) {
                    if (Math.abs(image.get(x, y, c) - background[c]) > 0.2f) {
                        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
                    }
                }
            }
        }
        assertTrue(x1 >= x0 && (x1 - x0 + 1) * (y1 - y0 + 1) < w * h / 2, "no object found apart from the background");
        for (java.util.Map.Entry<String, float[]> e : maps.entrySet()) {
            float[] m = e.getValue();
            assertEquals(w * h, m.length, e.getKey());
            float max = 0;
            for (float v : m) {
                assertTrue(v >= 0 && v <= 1, e.getKey() + ": " + v + " outside [0, 1]");
                max = Math.max(max, v);
            }
            assertEquals(1f, max, e.getKey() + " is not normalised");
        }
        // DAAM's claim, as CrossAttentionHeatMapTest measures it on this model ("circle" 1.47x, "the" 0.30x): the shape
        // word's attention mass falls in the object's box beyond the box's share of the image, and far beyond an article's.
        double area = (double) (x1 - x0 + 1) * (y1 - y0 + 1) / (w * h);
        double circle = boxShare(maps.get("circle"), w, x0, y0, x1, y1) / area;
        double the = boxShare(maps.get("the"), w, x0, y0, x1, y1) / area;
        assertTrue(circle > 1.3 && circle > 2 * the, "mass in the object's box over its area share: circle " + circle + ", the " + the);
    }

    private static double boxShare(float[] map, int w, int x0, int y0, int x1, int y1) {
        double inside = 0, all = 0;
        for (int i = 0; i < map.length; i++) {
            int x = i % w, y = i / w;
            all += map[i];
            inside += x >= x0 && x <= x1 && y >= y0 && y <= y1 ? map[i] : 0;
        }
        return inside / all;
    }

    @Test
    void customSamplerExampleLandsWhereTheBuiltInEulerDoes() throws Exception {
        Method sample = method("CustomSampler", "sample", DiffusionModel.class, GenerationRequest.class);
        try (DiffusionModel model = Ldm4j.load("shapes")) {
            GenerationRequest request = model.request("a green triangle in the bottom right on a gray background")
                    .withSeed(5).withSteps(10).withScheduler("euler", false);
            float[] ours = (float[]) sample.invoke(null, model, request);
            float[] builtIn = model.generate(request).latents();
            assertEquals(builtIn.length, ours.length);
            double worst = 0;
            double scale = 0;
            for (int j = 0; j < ours.length; j++) {
                assertTrue(Float.isFinite(ours[j]), "non-finite latent at " + j);
                worst = Math.max(worst, Math.abs(ours[j] - builtIn[j]));
                scale = Math.max(scale, Math.abs(builtIn[j]));
            }
            // The same algorithm; what differs is rounding (4e-6 for CustomSampler.main's request): guidance on D instead
            // of the U-Net output, two batch-1 U-Net calls instead of one batch-2 call, the timestep recovered from sigma.
            assertTrue(scale > 0.5, "the built-in run's latents are all near 0 (largest " + scale + ")");
            assertTrue(worst < 1e-4, "largest latent difference " + worst + " (latents up to " + scale + ")");
        }
    }

    @Test
    void denoiseIsTweedieOfScoreAndGuidesLikeTheHandMix() {
        try (DiffusionModel model = Ldm4j.load("shapes")) {
            GenerationRequest request = model.request("a yellow square").withSeed(1).withGuidanceScale(4);
            DiffusionModel.Conditioning guided = model.condition(request);
            DiffusionModel.Conditioning cond = model.condition(request.withGuidanceScale(1));
            DiffusionModel.Conditioning uncond = model.condition(request.withPrompt("").withGuidanceScale(1));
            assertTrue(guided.guided());
            assertArrayEquals(model.latentShape(request), guided.latentShape());
            double sigma = 2.5;
            float[] x = model.noise(request);
            for (int j = 0; j < x.length; j++) {
                x[j] *= (float) sigma;
            }
            float[] d = model.denoise(x, sigma, guided);
            double[] s = model.score(x, sigma, guided);
            float[] dc = model.denoise(x, sigma, cond);
            float[] du = model.denoise(x, sigma, uncond);
            for (int j = 0; j < x.length; j++) {
                assertEquals(x[j] + sigma * sigma * s[j], d[j], 1e-5 * (1 + Math.abs(d[j])), "Tweedie at " + j);
                assertEquals(du[j] + 4 * (dc[j] - du[j]), d[j], 1e-3, "guidance at " + j);
            }
        }
    }

    @Test
    void denoiseOnAnEpsilonModelTakesTheBuiltInEulersFirstStep() {
        assumeTrue(SharedFixtures.available(), "shared fixtures not present");
        // sd1-tiny: epsilon prediction, "leading" timesteps with steps_offset 1 (integer timesteps, as SD 1.5), guided.
        try (DiffusionModel model = Ldm4j.load(SharedFixtures.conformance().resolve("sd1-tiny"))) {
            GenerationRequest request = GenerationRequest.textToImage("a photo of a cat").withSteps(5).withSeed(11)
                    .withScheduler("euler", false);
            float[][] afterFirst = new float[1][];
            model.generate(request, (step, total, t, latents, nanos) -> {
                if (step == 1) {
                    afterFirst[0] = latents.clone();
                }
            });
            Scheduler euler = model.pipeline().scheduler("euler", false);
            euler.setTimesteps(request.steps());
            double[] sigmas = model.sigmas(request);
            float[] x = model.noise(request);
            for (int j = 0; j < x.length; j++) {
                x[j] *= (float) euler.initNoiseSigma();                                         // diffusers' start for "leading"
            }
            float[] d = model.denoise(x, sigmas[0], model.condition(request));
            for (int j = 0; j < x.length; j++) {
                double ours = x[j] + (x[j] - d[j]) / sigmas[0] * (sigmas[1] - sigmas[0]);
                assertEquals(afterFirst[0][j], ours, 1e-4 * (1 + Math.abs(ours)), "latent " + j + " after the first step");
            }
        }
    }

    @Test
    void unknownModelNameSaysWhereItLooked() {
        ModelException e = assertThrows(ModelException.class, () -> Ldm4j.load("no-such-model-here"));
        assertTrue(e.getMessage().contains("'no-such-model-here'") && e.getMessage().contains("models"), e.getMessage());
    }

    @Test
    void builtInModelIsFoundFromTheProjectFolder() {
        Path shapes = Ldm4j.builtinModel("shapes");
        assertEquals(root.resolve("models/shapes").toAbsolutePath().normalize(), shapes.toAbsolutePath().normalize());
    }

    @Test
    void wrongLatentsAndSchedulersWithoutSigmasAreRefused() {
        try (DiffusionModel model = Ldm4j.load("shapes")) {
            GenerationRequest request = model.request("a circle");
            DiffusionModel.Conditioning c = model.condition(request);
            assertThrows(IllegalArgumentException.class, () -> model.denoise(new float[7], 1.0, c));
            assertThrows(IllegalArgumentException.class, () -> model.denoise(model.noise(request), 0.0, c));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.sigmas(request.withScheduler("ddim", false)));
            assertTrue(e.getMessage().contains("euler"), e.getMessage());
        }
    }
}
