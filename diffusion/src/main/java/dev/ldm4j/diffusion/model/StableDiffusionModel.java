// A loaded Stable Diffusion model: text encoder, U-Net, VAE, and the tokenizer when the model (or its
// --config folder) has one, all on one backend, or the VAE on a backend of its own (generate
// --vae-dtype: the same GPU with another precision for the VAE's products). Loading is strict: a missing or mis-shaped tensor fails
// naming its key, and so do tensors no model used (known non-weights such as the DDPM schedule
// buffers or OpenCLIP's unused last block are set aside by the key mapping and listed in ignored()).
package dev.ldm4j.diffusion.model;

import dev.ldm4j.diffusion.clip.ClipTextTransformer;
import dev.ldm4j.diffusion.tokenizer.ClipTokenizer;
import dev.ldm4j.diffusion.unet.UNet2DConditionModel;
import dev.ldm4j.diffusion.vae.AutoencoderKL;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.weights.WeightException;

import java.util.ArrayList;
import java.util.List;

public final class StableDiffusionModel implements AutoCloseable {
    private final StableDiffusionModelSpec spec;
    private final ClipTextTransformer textEncoder;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private final Backend vaeBackend;
    private final ClipTokenizer tokenizer;

    private StableDiffusionModel(StableDiffusionModelSpec spec, ClipTextTransformer textEncoder, UNet2DConditionModel unet,
                                 AutoencoderKL vae, Backend vaeBackend, ClipTokenizer tokenizer) {
        this.spec = spec;
        this.textEncoder = textEncoder;
        this.unet = unet;
        this.vae = vae;
        this.vaeBackend = vaeBackend;
        this.tokenizer = tokenizer;
    }

    /** Builds the three models on the backend (weights move to its device); closes nothing of spec on failure. */
    public static StableDiffusionModel load(StableDiffusionModelSpec spec, Backend backend) {
        return load(spec, backend, backend);
    }

    /**
     * As load(spec, backend), with the VAE on vaeBackend, a backend of the same device (its tensors are
     * passed between the two).
     */
    public static StableDiffusionModel load(StableDiffusionModelSpec spec, Backend backend, Backend vaeBackend) {
        if (vaeBackend.device() != backend.device()) {
            throw new IllegalArgumentException("the VAE's backend (" + vaeBackend.name() + ") must be on the device of the other models (" + backend.name() + ")");
        }
        Params textP = Params.root(spec.textEncoderWeights(), backend);
        ClipTextTransformer text = new ClipTextTransformer(textP, spec.textEncoder());
        Params unetP = Params.root(spec.unetWeights(), backend);
        UNet2DConditionModel unet = new UNet2DConditionModel(unetP, spec.unet());
        Params vaeP = Params.root(spec.vaeWeights(), vaeBackend);
        AutoencoderKL vae = new AutoencoderKL(vaeP, spec.vae());
        List<String> unused = new ArrayList<>();
        unused.addAll(unusedWeights("text_encoder", textP));
        unused.addAll(unusedWeights("unet", unetP));
        unused.addAll(unusedWeights("vae", vaeP));
        if (!unused.isEmpty()) {
            throw new WeightException(spec.path() + ": " + unused.size() + " tensors no model uses: "
                    + String.join(", ", unused.subList(0, Math.min(8, unused.size()))) + (unused.size() > 8 ? ", ..." : ""));
        }
        ClipTokenizer tokenizer = spec.tokenizer() == null ? null
                : ClipTokenizer.load(spec.tokenizer(), spec.family() == ModelFamily.SD2 ? "!" : ClipTokenizer.EOS_TOKEN);
        if (tokenizer != null && !spec.addedTokens().isEmpty()) {
            tokenizer = tokenizer.withAddedTokens(spec.addedTokens());
        }
        return new StableDiffusionModel(spec, text, unet, vae, vaeBackend, tokenizer);
    }

    /**
     * Tensors of the scope that no model took, as "component: name" (a transformers text encoder's
     * position_ids buffer is not a weight and is left out).
     */
    static List<String> unusedWeights(String component, Params root) {
        List<String> out = new ArrayList<>();
        for (String n : root.unused()) {
            if (!n.endsWith("embeddings.position_ids")) {
                out.add(component + ": " + n);
            }
        }
        return out;
    }


    public StableDiffusionModelSpec spec() {
        return spec;
    }

    public ClipTextTransformer textEncoder() {
        return textEncoder;
    }

    public UNet2DConditionModel unet() {
        return unet;
    }

    public AutoencoderKL vae() {
        return vae;
    }

    /** The backend the VAE was loaded on (the other models' unless load was given another). */
    public Backend vaeBackend() {
        return vaeBackend;
    }

    /** The model's tokenizer, or null when neither the model nor its --config folder has one. */
    public ClipTokenizer tokenizer() {
        return tokenizer;
    }

    /** Closes the checkpoint files. */
    @Override
    public void close() {
        spec.close();
    }
}
