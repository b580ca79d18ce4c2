// diffusers' EncoderTiny (TAESD's encoder), one Sequential "layers": a 3x3 convolution from the image to
// the width, then per level a stride-2 3x3 convolution without bias (all levels but the first) and that
// level's AutoencoderTinyBlocks, and a last 3x3 convolution to the latent channels. The image comes in
// diffusers' [-1, 1] and is mapped to TAESD's [0, 1] first; the output is the latents themselves (no
// posterior, nothing sampled).
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Conv2d;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

final class EncoderTiny {
    private final Backend backend;
    private final List<UnaryOperator<Tensor>> layers = new ArrayList<>();

    EncoderTiny(Params p, AutoencoderTinyConfig c) {
        this.backend = p.backend();
        Params l = p.child("layers");
        int width = c.encoderBlockOutChannels().get(0);
        int at = 0;
        for (int level = 0; level < c.numEncoderBlocks().size(); level++) {
            Conv2d conv = level == 0
                    ? new Conv2d(l.child(at++), c.inChannels(), width, 3, 1, 1)
                    : Conv2d.withoutBias(l.child(at++), width, width, 3, 2, 1);
            layers.add(conv::forward);
            for (int b = 0; b < c.numEncoderBlocks().get(level); b++) {
                layers.add(new AutoencoderTinyBlock(l.child(at++), width, width)::forward);
            }
        }
        layers.add(new Conv2d(l.child(at), width, c.latentChannels(), 3, 1, 1)::forward);
    }

    /** image [B, 3, H, W] in [-1, 1] -> latents [B, latent, H/f, W/f] (f = 2^(levels - 1)). */
    Tensor forward(Tensor image) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor one = backend.toDevice(Tensor.of(new float[] {1f}, 1));
            Tensor shifted = backend.add(image, one);
            Tensor h = backend.scale(shifted, 0.5f);                        // [B, 3, H, W] in [0, 1]: (x + 1) / 2
            scope.release(shifted);
            for (UnaryOperator<Tensor> layer : layers) {
                Tensor next = layer.apply(h);                               // [B, width, H/2^level, W/2^level] ...
                scope.release(h, next);
                h = next;
            }
            return scope.keep(h);                                           // [B, latent, H/f, W/f]
        }
    }
}
