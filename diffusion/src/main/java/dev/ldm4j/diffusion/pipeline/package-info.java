/**
 * Running Stable Diffusion, and ldm4j's API for Java programs. With {@link dev.ldm4j.diffusion.schedulers} (the
 * {@code Scheduler} interface, {@code Schedulers} by name, {@code Score}) these classes are the API:
 * <ul>
 * <li>{@link dev.ldm4j.diffusion.pipeline.Ldm4j}: loads a model by path or built-in name
 *     ({@code Ldm4j.load("shapes")});</li>
 * <li>{@link dev.ldm4j.diffusion.pipeline.DiffusionModel}: a loaded model; {@code generate(request)} for whole runs,
 *     and for samplers of one's own the conditioning of a prompt, the denoiser {@code denoise(x, sigma, c)}, the
 *     score {@code score(x, sigma, c)}, a request's sigmas and starting noise, and the decoder;</li>
 * <li>{@link dev.ldm4j.diffusion.pipeline.GenerationRequest} (what to generate, built with {@code with*} methods),
 *     {@link dev.ldm4j.diffusion.pipeline.GenerationResult}, {@link dev.ldm4j.diffusion.pipeline.RgbImage},
 *     {@link dev.ldm4j.diffusion.pipeline.StepListener};</li>
 * <li>{@link dev.ldm4j.diffusion.pipeline.StableDiffusionPipeline} with
 *     {@link dev.ldm4j.diffusion.pipeline.SamplingOptions} for the switches DiffusionModel leaves out (guidance rescale
 *     and interval, custom schedules, prompt blends, a NoiseSource of one's own, image-to-image and inpainting
 *     inputs).</li>
 * </ul>
 * The pipeline's stages (prompt encoding, the recorded U-Net step) are package-private. Classes of the other packages
 * of this module and of core-tensor, nn and weights-loader are public so that the modules can use each other; they
 * are internals, not API. docs/examples holds programs that use the API, compiled and run by JavaApiExamplesTest.
 */
package dev.ldm4j.diffusion.pipeline;
