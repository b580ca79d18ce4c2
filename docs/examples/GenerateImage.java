// "Use from Java", example 1: load the built-in shapes model, generate one image from a request object, save it as a
// PNG. The README shows the part between the readme-snippet lines; JavaApiExamplesTest compiles and runs this file and
// checks that the README's copy is the same. Run it from the project folder once the jars are built (./ldm4j builds
// them on first use):
//   java --add-modules jdk.incubator.vector -cp "$(ls cli/target/lib/*.jar | paste -sd:)" docs/examples/GenerateImage.java out.png
import dev.ldm4j.diffusion.pipeline.DiffusionModel;
import dev.ldm4j.diffusion.pipeline.GenerationRequest;
import dev.ldm4j.diffusion.pipeline.GenerationResult;
import dev.ldm4j.diffusion.pipeline.Ldm4j;
import dev.ldm4j.diffusion.pipeline.RgbImage;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.File;

public class GenerateImage {
    public static void main(String[] args) throws Exception {
        File out = new File(args.length > 0 ? args[0] : "shapes.png");
        // [readme-snippet]
        try (DiffusionModel model = Ldm4j.load("shapes")) {               // a built-in name, or a model's folder or file
            GenerationRequest request = model.request("a red circle in the top left on a white background")
                    .withSeed(42)
                    .withSteps(20);                                          // the rest: the model's defaults
            GenerationResult result = model.generate(request);
            RgbImage image = result.images().get(0);                         // [H, W, 3] floats in [0, 1]

            BufferedImage png = new BufferedImage(image.width(), image.height(), BufferedImage.TYPE_INT_RGB);
            png.setRGB(0, 0, image.width(), image.height(), image.toPackedRgb(), 0, image.width());
            ImageIO.write(png, "png", out);
        }
        // [/readme-snippet]
        System.out.println("wrote " + out);
    }
}
