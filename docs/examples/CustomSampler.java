// "Use from Java", example 2: a sampler of one's own against the model's denoiser D(x; sigma). It is Euler's method on
// the probability-flow ODE dx/dsigma = (x - D(x; sigma)) / sigma (Karras et al. 2022, Algorithm 2 without churn), with
// classifier-free guidance done by hand, D = D_uncond + g (D_cond - D_uncond) (Ho & Salimans 2022). The built-in
// sampler of the same algorithm is the "euler" scheduler; main (and JavaApiExamplesTest) checks that the two agree on
// the shapes model. (With "leading" timesteps, as SD 1.5's config has, diffusers starts from sqrt(sigma^2 + 1) times the
// noise instead of sigma times it: the same run up to that first scale.)
// DiffusionModel.score gives s(x, sigma) = (D - x) / sigma^2 instead, for samplers written in terms of the score
// (docs/SDE.md); a guided Conditioning (model.condition(request)) makes denoise and score apply the guidance themselves.
//   java --add-modules jdk.incubator.vector -cp "$(ls cli/target/lib/*.jar | paste -sd:)" docs/examples/CustomSampler.java
import dev.ldm4j.diffusion.pipeline.DiffusionModel;
import dev.ldm4j.diffusion.pipeline.DiffusionModel.Conditioning;
import dev.ldm4j.diffusion.pipeline.GenerationRequest;
import dev.ldm4j.diffusion.pipeline.Ldm4j;

public class CustomSampler {
    /** The final latents of the request's run: Euler steps over the sigmas of the request's scheduler, guided by hand. */
    public static float[] sample(DiffusionModel model, GenerationRequest request) {
        Conditioning cond = model.condition(request.withGuidanceScale(1));                              // the prompt alone
        Conditioning uncond = model.condition(request.withPrompt(request.negativePrompt()).withGuidanceScale(1));
        double g = request.guidanceScale();
        double[] sigmas = model.sigmas(request);                                  // from high to low, ending in 0
        float[] x = model.noise(request);                                         // standard normal, the run's first draw
        for (int j = 0; j < x.length; j++) {
            x[j] *= (float) sigmas[0];
        }
        for (int i = 0; i + 1 < sigmas.length; i++) {
            float[] dCond = model.denoise(x, sigmas[i], cond);
            float[] dUncond = model.denoise(x, sigmas[i], uncond);
            for (int j = 0; j < x.length; j++) {
                double d = dUncond[j] + g * (dCond[j] - dUncond[j]);              // guided D(x; sigma)
                double slope = (x[j] - d) / sigmas[i];                            // dx/dsigma
                x[j] = (float) (x[j] + slope * (sigmas[i + 1] - sigmas[i]));
            }
        }
        return x;
    }

    public static void main(String[] args) {
        try (DiffusionModel model = Ldm4j.load("shapes")) {
            GenerationRequest request = model.request("a blue square on a black background").withSeed(3).withSteps(12)
                    .withScheduler("euler", false);
            float[] ours = sample(model, request);
            float[] builtIn = model.generate(request).latents();
            double worst = 0;
            for (int j = 0; j < ours.length; j++) {
                worst = Math.max(worst, Math.abs(ours[j] - builtIn[j]));
            }
            System.out.printf("this sampler and the built-in euler: largest latent difference %.2e%n", worst);
        }
    }
}
