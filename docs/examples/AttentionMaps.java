// "Use from Java", example 3: where did each word of the prompt look? Run the built-in shapes model with a
// cross-attention listener (CrossAttentionHeatMaps: DAAM, Tang et al. 2023) and read one heat map per prompt word over
// the image. JavaApiExamplesTest compiles and runs this file. Run it from the project folder once the jars are built:
//   java --add-modules jdk.incubator.vector -cp "$(ls cli/target/lib/*.jar | paste -sd:)" docs/examples/AttentionMaps.java
import dev.ldm4j.diffusion.pipeline.CrossAttentionHeatMaps;
import dev.ldm4j.diffusion.pipeline.DiffusionModel;
import dev.ldm4j.diffusion.pipeline.Ldm4j;
import dev.ldm4j.diffusion.pipeline.RgbImage;
import dev.ldm4j.diffusion.tokenizer.ClipEncoding;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;

import java.util.LinkedHashMap;
import java.util.Map;

public class AttentionMaps {
    /** The image of a run and, per prompt word, its heat map: [height * width], row-major, in [0, 1]. */
    public record Traced(RgbImage image, Map<String, float[]> maps) {}

    public static Traced trace(String prompt, long seed) {
        try (DiffusionModel model = Ldm4j.load("shapes")) {
            CrossAttentionHeatMaps maps = new CrossAttentionHeatMaps();      // every layer but the mid block's
            model.pipeline().setCrossAttentionListener(maps);                // off again with null
            RgbImage image = model.generate(model.request(prompt).withSeed(seed)).images().get(0);

            ClipTokenizer tokenizer = model.pipeline().tokenizer();
            ClipEncoding encoding = tokenizer.encode(prompt);                // position 0 is the start token
            Map<String, float[]> words = new LinkedHashMap<>();
            for (int p = 1; p <= encoding.tokenCount(); p++) {
                String word = tokenizer.token(encoding.ids()[p]).replace("</w>", "");
                words.put(word, maps.heatMap(p, image.width(), image.height()));
            }
            return new Traced(image, words);
        }
    }

    public static void main(String[] args) {
        Traced t = trace(args.length > 0 ? args[0] : "a red circle in the top left", 1);
        t.maps().forEach((word, map) -> {                                    // each word's centre of attention
            double sum = 0, x = 0, y = 0;
            for (int i = 0; i < map.length; i++) {
                sum += map[i];
                x += map[i] * (i % t.image().width());
                y += map[i] * (i / t.image().width());
            }
            System.out.printf("%-8s looks at (%.0f, %.0f)%n", word, x / sum, y / sum);
        });
    }
}
