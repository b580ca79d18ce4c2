// How well a text-to-image model follows shapes-v1 prompts, measured by reading its images back:
//   adherence       every prompt of the chosen EvalPromptSet groups (the first `limit` of each), sampled
//                   with the prompt's fixed seed (a torch.Generator("cpu") seed, float32 draws, as
//                   ./ldm4j generate --seed draws), judged by ShapesEvaluator. Per group: images
//                   correct / total, each attribute's checks correct / total (the judge's names:
//                   objects, background, color, shape, size, position; "first color" ... "relation"
//                   for two objects), and the median wall-clock time per image (prompt to pixels);
//   reconstruction  the VAE's PSNR on `count` fresh shapes-v1 renders (ShapesDataset seed 777,
//                   indices 0..count-1; training draws from its own seed, 0 by default) at the model's
//                   image size: encode to the posterior mean, decode, round to 8 bits, Psnr.of. Mean
//                   and min over the images, in dB.
// The report prints as one table per group, becomes JSON (every number and each failing image's prompt
// and failed checks) and a grid of the generated images.
package dev.ldm4j.train.eval;

import dev.ldm4j.diffusion.pipeline.GenerationRequest;
import dev.ldm4j.diffusion.pipeline.GenerationResult;
import dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline;
import dev.ldm4j.diffusion.pipeline.StepListener;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;
import dev.ldm4j.train.Images;
import dev.ldm4j.train.data.Rgb8Image;
import dev.ldm4j.train.data.ShapesDataset;
import dev.ldm4j.train.eval.EvalPromptSet.EvalPrompt;
import dev.ldm4j.train.eval.EvalPromptSet.Group;
import dev.ldm4j.train.eval.ShapesEvaluator.AttributeCheck;
import dev.ldm4j.train.eval.ShapesEvaluator.Judgement;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

public final class ShapesBenchmark {
    /** The ShapesDataset seed of the reconstruction images (training's default is 0). */
    public static final long RECONSTRUCTION_SEED = 777;
    /** How many images the reconstruction PSNR is taken over by default. */
    public static final int RECONSTRUCTION_SAMPLES = 64;
    /** Columns of the image grid. */
    public static final int GRID_COLUMNS = 12;

    private ShapesBenchmark() {
    }

    /** The sampling settings of every image: those of ./ldm4j generate (scheduler null: the model's own). */
    public record Sampling(int steps, double guidance, String scheduler, boolean karras) {
        public Sampling {
            if (steps < 1) {
                throw new IllegalArgumentException("steps must be at least 1, got " + steps);
            }
            if (!(guidance >= 0) || Double.isInfinite(guidance)) {
                throw new IllegalArgumentException("guidance must be a finite number >= 0, got " + guidance);
            }
        }

        /** The request of one evaluation prompt. */
        public GenerationRequest request(EvalPrompt p) {
            return GenerationRequest.textToImage(p.prompt()).withSteps(steps).withGuidanceScale(guidance).withSeed(p.seed())
                    .withScheduler(scheduler, karras);
        }
    }

    /** One generated and judged image; nanos: the wall-clock time of its generation. */
    public record Sample(EvalPrompt prompt, Rgb8Image image, Judgement judgement, long nanos) {
    }

    /** correct out of total. */
    public record Tally(String name, int correct, int total) {
        public double percent() {
            return total == 0 ? 0 : 100.0 * correct / total;
        }
    }

    /**
     * The scores of a set of images.
     *
     * @param name          the group's label ("seen", "unseen pairs", "two objects") or "all"
     * @param images        images with every check right, out of all images
     * @param attributes    per attribute (the judge's names, in order of first appearance): checks right, out of checks made
     * @param medianSeconds the median generation time per image
     */
    public record Score(String name, Tally images, List<Tally> attributes, double medianSeconds) {
        public Score {
            attributes = List.copyOf(attributes);
        }

        /** The tally of the named attribute, or null when no image was checked for it. */
        public Tally attribute(String attribute) {
            return attributes.stream().filter(t -> t.name().equals(attribute)).findFirst().orElse(null);
        }
    }

    /** The VAE's reconstruction PSNR (dB) over `samples` shapes-v1 renders of a side of `resolution` pixels. */
    public record Reconstruction(int samples, long seed, int resolution, double meanPsnr, double minPsnr) {
    }

    /**
     * What a run measured.
     *
     * @param scheduler how the images were sampled, in words ("dpmpp_2m karras", or the model's own scheduler class)
     * @param groups    one score per group evaluated, in EvalPromptSet order
     * @param overall   the score over every image
     * @param vae       the reconstruction PSNR, or null when none was asked for
     * @param samples   every image, in prompt order
     */
    public record Report(Sampling sampling, String scheduler, List<Score> groups, Score overall, Reconstruction vae, List<Sample> samples) {
        public Report {
            groups = List.copyOf(groups);
            samples = List.copyOf(samples);
        }

        /** One table per group, then the overall line and the PSNR, for people to read. */
        public String table() {
            StringBuilder sb = new StringBuilder();
            sb.append(String.format(Locale.ROOT, "shapes-v1 prompt adherence: %d images, %d steps, guidance %s, %s%n",
                    overall.images().total(), sampling.steps(), number(sampling.guidance()), scheduler));
            for (Score g : groups) {
                sb.append(String.format(Locale.ROOT, "%n%-16s %9s %7s%n", g.name(), "correct", "%"));
                row(sb, "images", g.images());
                for (Tally t : g.attributes()) {
                    row(sb, "  " + t.name(), t);
                }
                sb.append(String.format(Locale.ROOT, "%-16s %9s s%n", "median time", String.format(Locale.ROOT, "%.2f", g.medianSeconds())));
            }
            sb.append(String.format(Locale.ROOT, "%nall: %d/%d images correct (%.1f%%), median %.2f s per image%n",
                    overall.images().correct(), overall.images().total(), overall.images().percent(), overall.medianSeconds()));
            if (vae != null) {
                sb.append(String.format(Locale.ROOT, "VAE reconstruction PSNR over %d shapes-v1 images (seed %d, %dx%d): mean %.2f dB, min %.2f dB%n",
                        vae.samples(), vae.seed(), vae.resolution(), vae.resolution(), vae.meanPsnr(), vae.minPsnr()));
            }
            return sb.toString();
        }

        private static void row(StringBuilder sb, String name, Tally t) {
            sb.append(String.format(Locale.ROOT, "%-16s %9s %6.1f%%%n", name, t.correct() + "/" + t.total(), t.percent()));
        }

        /** Every number, and each failing image's prompt, seed and failed checks, as a JSON-ready map. */
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("steps", sampling.steps());
            s.put("guidance", sampling.guidance());
            s.put("scheduler", sampling.scheduler());                                // null: the model's own
            s.put("karras", sampling.karras());
            s.put("sampler", scheduler);
            m.put("sampling", s);
            List<Object> gs = new ArrayList<>();
            for (Score g : groups) {
                gs.add(json(g));
            }
            m.put("groups", gs);
            m.put("all", json(overall));
            if (vae != null) {
                Map<String, Object> v = new LinkedHashMap<>();
                v.put("samples", vae.samples());
                v.put("seed", vae.seed());
                v.put("resolution", vae.resolution());
                v.put("mean_psnr_db", finiteOrNull(vae.meanPsnr()));
                v.put("min_psnr_db", finiteOrNull(vae.minPsnr()));
                m.put("vae_reconstruction", v);
            }
            List<Object> failures = new ArrayList<>();
            for (int i = 0; i < samples.size(); i++) {
                Sample x = samples.get(i);
                if (!x.judgement().correct()) {
                    Map<String, Object> f = new LinkedHashMap<>();
                    f.put("index", i);
                    f.put("group", label(x.prompt().group()));
                    f.put("prompt", x.prompt().prompt());
                    f.put("seed", x.prompt().seed());
                    f.put("failures", x.judgement().failures());
                    failures.add(f);
                }
            }
            m.put("failures", failures);
            return m;
        }

        private static Map<String, Object> json(Score g) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", g.name());
            m.put("correct", g.images().correct());
            m.put("total", g.images().total());
            m.put("percent", g.images().percent());
            m.put("median_seconds", g.medianSeconds());
            Map<String, Object> attrs = new LinkedHashMap<>();
            for (Tally t : g.attributes()) {
                Map<String, Object> a = new LinkedHashMap<>();
                a.put("correct", t.correct());
                a.put("total", t.total());
                a.put("percent", t.percent());
                attrs.put(t.name(), a);
            }
            m.put("attributes", attrs);
            return m;
        }

        /** The generated images in prompt order, GRID_COLUMNS to a row (fewer when there are fewer images). */
        public BufferedImage grid() {
            List<BufferedImage> tiles = new ArrayList<>();
            for (Sample x : samples) {
                Rgb8Image im = x.image();
                tiles.add(Images.fromChw(im.toChw(), 0, im.height(), im.width()));
            }
            return Images.grid(tiles, Math.min(GRID_COLUMNS, tiles.size()));
        }
    }

    /** Called after each image is judged. */
    @FunctionalInterface
    public interface Progress {
        void onImage(int done, int total, Sample sample);

        Progress NONE = (done, total, sample) -> {
        };
    }

    /** The group's label in tables and JSON. */
    public static String label(Group g) {
        return switch (g) {
            case SEEN -> "seen";
            case UNSEEN_PAIRS -> "unseen pairs";
            case TWO_OBJECTS -> "two objects";
        };
    }

    /** The prompts of the given groups (in EvalPromptSet order), at most limitPerGroup of each (the first ones). */
    public static List<EvalPrompt> prompts(Collection<Group> groups, int limitPerGroup) {
        if (limitPerGroup < 1) {
            throw new IllegalArgumentException("the limit per group must be at least 1, got " + limitPerGroup);
        }
        List<EvalPrompt> out = new ArrayList<>();
        for (Group g : Group.values()) {
            if (groups.contains(g)) {
                List<EvalPrompt> all = EvalPromptSet.group(g);
                out.addAll(all.subList(0, Math.min(limitPerGroup, all.size())));
            }
        }
        return out;
    }

    /**
     * The whole measurement: generates and judges the prompts of the groups, then (reconstructionSamples > 0)
     * the VAE's PSNR at the model's image size on the VAE's own backend.
     */
    public static Report run(StableDiffusionPipeline pipe, Sampling sampling, Collection<Group> groups, int limitPerGroup,
                             int reconstructionSamples, Progress progress) {
        List<EvalPrompt> prompts = prompts(groups, limitPerGroup);
        String scheduler = sampling.scheduler() != null
                ? sampling.scheduler() + (sampling.karras() ? " karras" : "")
                : "the model's scheduler (" + pipe.spec().schedulerConfig().get("_class_name") + ")";
        List<Sample> samples = new ArrayList<>();
        for (EvalPrompt p : prompts) {
            Sample s = generate(pipe, sampling, p);
            samples.add(s);
            progress.onImage(samples.size(), prompts.size(), s);
        }
        Reconstruction vae = null;
        if (reconstructionSamples > 0) {
            int side = pipe.outputSize(GenerationRequest.textToImage(""))[0];                  // the model's square default size
            vae = reconstruction(pipe.model().vae(), pipe.model().vaeBackend(), side, RECONSTRUCTION_SEED, reconstructionSamples);
        }
        return report(sampling, scheduler, samples, vae);
    }

    /** One prompt, sampled with its seed and judged. */
    public static Sample generate(StableDiffusionPipeline pipe, Sampling sampling, EvalPrompt p) {
        long t0 = System.nanoTime();
        GenerationResult r = pipe.generate(sampling.request(p), StepListener.NONE);
        long nanos = System.nanoTime() - t0;
        Rgb8Image image = Rgb8Image.of(r.images().getFirst());
        return new Sample(p, image, ShapesEvaluator.judge(image, p.prompt()), nanos);
    }

    /** The report of judged samples: one score per group present (EvalPromptSet order) and one over all. */
    public static Report report(Sampling sampling, String scheduler, List<Sample> samples, Reconstruction vae) {
        List<Score> groups = new ArrayList<>();
        for (Group g : Group.values()) {
            List<Sample> in = samples.stream().filter(s -> s.prompt().group() == g).toList();
            if (!in.isEmpty()) {
                groups.add(score(label(g), in));
            }
        }
        return new Report(sampling, scheduler, groups, score("all", samples), vae, samples);
    }

    /** Counts images correct and, per attribute, checks correct; the median time per image. */
    public static Score score(String name, List<Sample> samples) {
        Map<String, int[]> perAttribute = new LinkedHashMap<>();                              // name -> {correct, total}
        int correct = 0;
        long[] nanos = new long[samples.size()];
        for (int i = 0; i < samples.size(); i++) {
            Judgement j = samples.get(i).judgement();
            correct += j.correct() ? 1 : 0;
            nanos[i] = samples.get(i).nanos();
            for (AttributeCheck c : j.checks()) {
                int[] t = perAttribute.computeIfAbsent(c.attribute(), k -> new int[2]);
                t[0] += c.correct() ? 1 : 0;
                t[1]++;
            }
        }
        List<Tally> attributes = new ArrayList<>();
        perAttribute.forEach((k, t) -> attributes.add(new Tally(k, t[0], t[1])));
        return new Score(name, new Tally("images", correct, samples.size()), attributes, median(nanos) / 1e9);
    }

    /** The middle value (the mean of the two middle ones for an even count); 0 for none. */
    static double median(long[] values) {
        if (values.length == 0) {
            return 0;
        }
        long[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + (double) v[n / 2]) / 2;
    }

    /**
     * PSNR of the VAE's reconstructions of shapes-v1 renders (ShapesDataset(seed, resolution), indices
     * 0..count-1): encode to the posterior mean, decode, round to 8 bits as the pipeline's images are.
     * Batches hold at most 8 images of 128x128 pixels' worth.
     */
    public static Reconstruction reconstruction(AutoencoderKL vae, Backend backend, int resolution, long seed, int count) {
        if (count < 1) {
            throw new IllegalArgumentException("reconstruction needs at least one image, got " + count);
        }
        ShapesDataset data = new ShapesDataset(seed, resolution);
        int batch = (int) Math.max(1, Math.min(8, 8L * 128 * 128 / ((long) resolution * resolution)));
        int plane = 3 * resolution * resolution;
        double sum = 0;
        double min = Double.POSITIVE_INFINITY;
        for (int start = 0; start < count; start += batch) {
            int n = Math.min(batch, count - start);
            Rgb8Image[] originals = new Rgb8Image[n];
            float[] chw = new float[n * plane];
            for (int i = 0; i < n; i++) {
                originals[i] = data.render(start + i);
                System.arraycopy(originals[i].toChw(), 0, chw, i * plane, plane);
            }
            float[] decoded;
            try (TensorScope scope = TensorScope.open()) {
                Tensor images = backend.toDevice(Tensor.of(chw, n, 3, resolution, resolution));  // [n, 3, R, R]
                Tensor mean = vae.encode(images).mean();                                        // [n, latent, R/8, R/8]
                decoded = backend.toHost(vae.decode(mean)).data();                              // [n, 3, R, R]
            }
            for (int i = 0; i < n; i++) {
                float[] one = Arrays.copyOfRange(decoded, i * plane, (i + 1) * plane);
                double psnr = Psnr.of(originals[i], Rgb8Image.fromChw(one, resolution, resolution));
                sum += psnr;
                min = Math.min(min, psnr);
            }
        }
        return new Reconstruction(count, seed, resolution, sum / count, min);
    }

    private static Object finiteOrNull(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static String number(double v) {
        return v == Math.rint(v) ? String.format(Locale.ROOT, "%.1f", v) : Double.toString(v);
    }
}
