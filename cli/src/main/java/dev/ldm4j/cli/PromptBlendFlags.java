// generate's switches on the conditioning (issue 17), a picocli mixin: --prompt-mix "B:T" (slerp of the prompt's
// conditioning towards B's by T), --interpolate N (N images from the prompt to B with the same seed, as one grid PNG)
// and --prompt-arithmetic "A - B + C" (the conditioning cond(A) - cond(B) + cond(C)). PromptBlend in the pipeline
// does the arithmetic; here are the flags, their checks, and their keys in the PNG's parameters.
package dev.ldm4j.cli;

import dev.ldm4j.diffusion.pipeline.GenerationResult;
import dev.ldm4j.diffusion.pipeline.PromptBlend;
import dev.ldm4j.diffusion.pipeline.RgbImage;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class PromptBlendFlags {
    /** The keys these switches take in the PNG's parameters text. */
    static final List<String> INFOTEXT_KEYS = List.of("Prompt mix", "Interpolate", "Prompt arithmetic");
    private static final int MAX_INTERPOLATE = 64;

    @Option(names = "--prompt-mix", paramLabel = "TEXT[:T]",
            description = {"Slerp the prompt's conditioning towards TEXT's by T in [0, 1] (default 0.5), position by position;",
                    "with --interpolate, TEXT alone (the weights are the interpolation's)."})
    String promptMix;

    @Option(names = "--interpolate", paramLabel = "N",
            description = {"Write one grid PNG of N images (2 to " + MAX_INTERPOLATE + ") from the prompt to --prompt-mix's TEXT, slerp weights",
                    "0, 1/(N-1), ..., 1, all from the same seed."})
    Integer interpolate;

    @Option(names = "--prompt-arithmetic", paramLabel = "\"A - B + C\"",
            description = {"Condition on cond(A) - cond(B) + cond(C), the texts' conditioning added position by position (terms",
                    "separated by ' + ' or ' - ' with spaces); A is the prompt (leave out --prompt)."})
    String promptArithmetic;

    /** A trailing ":number" of --prompt-mix (the text before it may hold colons of its own). */
    private static final Pattern WEIGHT = Pattern.compile("(.*):\\s*([-+0-9.eE]+)\\s*");
    /** The operators of --prompt-arithmetic, with a space on each side. */
    private static final Pattern OPERATOR = Pattern.compile(" ([+-]) ");

    /**
     * The prompt to use: --prompt, or A of --prompt-arithmetic (where both are given they must agree, as after
     * --from-png, which writes A as the prompt).
     */
    String prompt(String prompt) {
        if (promptArithmetic == null) {
            return prompt;
        }
        String first = terms().get(0).text();
        if (prompt != null && !prompt.equals(first)) {
            throw new Main.UserError("--prompt and --prompt-arithmetic: give one (the arithmetic's first term is the prompt)");
        }
        return first;
    }

    /**
     * Checks every value; returns the blend of one run (null: none; with --interpolate, the first image's).
     *
     * @throws Main.UserError naming the flag and the value
     */
    PromptBlend check(int batch, boolean latentsSaved) {
        if (promptArithmetic != null && (promptMix != null || interpolate != null)) {
            throw new Main.UserError("--prompt-arithmetic cannot be combined with --prompt-mix or --interpolate");
        }
        if (interpolate != null) {
            if (interpolate < 2 || interpolate > MAX_INTERPOLATE) {
                throw new Main.UserError("--interpolate must be 2 to " + MAX_INTERPOLATE + ", got " + interpolate);
            }
            if (promptMix == null) {
                throw new Main.UserError("--interpolate needs --prompt-mix TEXT, the prompt to interpolate to");
            }
            if (batch > 1 || latentsSaved) {
                throw new Main.UserError("--interpolate writes one grid PNG: it cannot be combined with --batch or --save-latents");
            }
            return interpolation(0);
        }
        if (promptMix != null) {
            Matcher m = WEIGHT.matcher(promptMix);
            String text = m.matches() ? m.group(1) : promptMix;
            double t = m.matches() ? weight(m.group(2)) : 0.5;
            return new PromptBlend.Slerp(text, t);
        }
        if (promptArithmetic != null) {
            return new PromptBlend.Sum(terms().subList(1, terms().size()));
        }
        return null;
    }

    /** Whether the run is an interpolation (several images into one grid). */
    boolean interpolating() {
        return interpolate != null;
    }

    /** The blend of image k of the interpolation: slerp towards --prompt-mix's text by k / (N - 1). */
    private PromptBlend interpolation(int k) {
        Matcher m = WEIGHT.matcher(promptMix);
        if (m.matches()) {
            throw new Main.UserError("--interpolate takes --prompt-mix TEXT without a weight (the weights are 0 to 1), got '" + promptMix + "'");
        }
        return new PromptBlend.Slerp(promptMix, (double) k / (interpolate - 1));
    }

    /**
     * Runs the interpolation: image k from run.apply(blend k), the images side by side in one grid (a 2-pixel white
     * gutter); the result holds the grid, the last run's latents and the summed timings.
     */
    GenerationResult interpolate(java.util.function.Function<PromptBlend, GenerationResult> run) {
        List<RgbImage> images = new ArrayList<>();
        GenerationResult last = null;
        long text = 0;
        long decode = 0;
        List<Long> steps = new ArrayList<>();
        for (int k = 0; k < interpolate; k++) {
            last = run.apply(interpolation(k));
            images.add(last.images().get(0));
            text += last.timings().textEncodingNanos();
            decode += last.timings().decodingNanos();
            for (long n : last.timings().stepNanos()) {
                steps.add(n);
            }
        }
        GenerationResult.Timings t = new GenerationResult.Timings(text, 0, steps.stream().mapToLong(Long::longValue).toArray(), decode);
        return new GenerationResult(List.of(row(images)), last.latents(), last.prompt(), last.negative(), t);
    }

    /** Equally sized images in one row with a 2-pixel white gutter. */
    static RgbImage row(List<RgbImage> images) {
        int w = images.get(0).width();
        int h = images.get(0).height();
        int gap = 2;
        int width = images.size() * (w + gap) + gap;
        int height = h + 2 * gap;
        float[] data = new float[width * height * 3];
        java.util.Arrays.fill(data, 1f);
        for (int k = 0; k < images.size(); k++) {
            RgbImage im = images.get(k);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    for (int c = 0; c < 3; c++) {
                        data[((y + gap) * width + gap + k * (w + gap) + x) * 3 + c] = im.get(x, y, c);
                    }
                }
            }
        }
        return new RgbImage(width, height, data);
    }

    /** The switches as parameters-text fields (only those given). */
    Map<String, String> infotextFields() {
        Map<String, String> f = new LinkedHashMap<>();
        if (promptMix != null) {
            f.put("Prompt mix", promptMix);
        }
        if (interpolate != null) {
            f.put("Interpolate", Integer.toString(interpolate));
        }
        if (promptArithmetic != null) {
            f.put("Prompt arithmetic", promptArithmetic);
        }
        return f;
    }

    /** --from-png: the switches the file holds that the command line does not give. */
    void readFrom(Map<String, String> fields, Predicate<String> given) {
        if (!given.test("--prompt-mix") && fields.containsKey("Prompt mix")) {
            promptMix = fields.get("Prompt mix");
        }
        if (!given.test("--interpolate") && fields.containsKey("Interpolate")) {
            try {
                interpolate = Integer.parseInt(fields.get("Interpolate").strip());
            } catch (NumberFormatException e) {
                throw new Main.UserError("Interpolate '" + fields.get("Interpolate") + "' is not a whole number");
            }
        }
        if (!given.test("--prompt-arithmetic") && !given.test("--prompt") && fields.containsKey("Prompt arithmetic")) {
            promptArithmetic = fields.get("Prompt arithmetic");
        }
    }

    /** The terms of --prompt-arithmetic: the first with weight +1, then each with the sign before it. */
    private List<PromptBlend.Term> terms() {
        List<PromptBlend.Term> terms = new ArrayList<>();
        Matcher m = OPERATOR.matcher(promptArithmetic);
        int start = 0;
        double sign = 1;
        while (true) {
            boolean found = m.find();
            String text = promptArithmetic.substring(start, found ? m.start() : promptArithmetic.length()).strip();
            if (text.isEmpty()) {
                throw new Main.UserError("--prompt-arithmetic: an empty term in '" + promptArithmetic + "' (write \"A - B + C\", spaces around + and -)");
            }
            terms.add(new PromptBlend.Term(sign, text));
            if (!found) {
                break;
            }
            sign = m.group(1).equals("+") ? 1 : -1;
            start = m.end();
        }
        if (terms.size() < 2) {
            throw new Main.UserError("--prompt-arithmetic needs at least two terms (\"A - B + C\", spaces around + and -), got '" + promptArithmetic + "'");
        }
        return terms;
    }

    private double weight(String text) {
        try {
            double t = Double.parseDouble(text);
            if (t >= 0 && t <= 1) {
                return t;
            }
        } catch (NumberFormatException notANumber) {
            // said below
        }
        throw new Main.UserError("--prompt-mix: the weight must be a number in [0, 1], got '" + text + "' (in '" + promptMix + "')");
    }
}
