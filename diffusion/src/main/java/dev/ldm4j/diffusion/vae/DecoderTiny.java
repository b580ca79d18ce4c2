// diffusers' DecoderTiny (TAESD's decoder), one Sequential "layers": a 3x3 convolution from the latents
// to the width and a ReLU, then per level that level's AutoencoderTinyBlocks, and for all levels but the
// last a nearest 2x upsampling and a 3x3 convolution without bias; the last level ends in a 3x3
// convolution with bias to the image channels. Before the stack the latents pass TAESD's Clamp,
// tanh(z / 3) * 3 (a soft limit to (-3, 3)); after it the image is mapped from TAESD's [0, 1] to
// diffusers' [-1, 1].
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Conv2d;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

final class DecoderTiny {
    private final Backend backend;
    private final List<UnaryOperator<Tensor>> layers = new ArrayList<>();

    DecoderTiny(Params p, AutoencoderTinyConfig c) {
        this.backend = p.backend();
        Params l = p.child("layers");
        int width = c.decoderBlockOutChannels().get(0);
        int levels = c.numDecoderBlocks().size();
        int at = 0;
        layers.add(new Conv2d(l.child(at++), c.latentChannels(), width, 3, 1, 1)::forward);
        layers.add(x -> AutoencoderTinyBlock.relu(backend, x));
        at++;                                                                // index 1 is the ReLU
        for (int level = 0; level < levels; level++) {
            for (int b = 0; b < c.numDecoderBlocks().get(level); b++) {
                layers.add(new AutoencoderTinyBlock(l.child(at++), width, width)::forward);
            }
            if (level < levels - 1) {
                layers.add(backend::upsampleNearest2x);
                at++;                                                        // the Upsample has no weights
                layers.add(Conv2d.withoutBias(l.child(at++), width, width, 3, 1, 1)::forward);
            } else {
                layers.add(new Conv2d(l.child(at), width, c.outChannels(), 3, 1, 1)::forward);
            }
        }
    }

    /** z [B, latent, h, w] -> image [B, 3, f h, f w] in about [-1, 1] (f = 2^(levels - 1)). */
    Tensor forward(Tensor z) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor h = clamp(z);                                             // [B, latent, h, w] in (-3, 3)
            for (UnaryOperator<Tensor> layer : layers) {
                Tensor next = layer.apply(h);                                // ... [B, width, h 2^level, w 2^level]
                scope.release(h, next);
                h = next;
            }
            Tensor doubled = backend.scale(h, 2f);                           // [B, 3, f h, f w]
            scope.release(h);
            Tensor one = backend.toDevice(Tensor.of(new float[] {1f}, 1));
            return scope.keep(backend.sub(doubled, one));                    // 2 x - 1: [0, 1] -> [-1, 1]
        }
    }

    /**
     * TAESD's Clamp, tanh(z / 3) * 3, computed on the host in double precision: the latents are small, and
     * the backends have no tanh op.
     */
    private Tensor clamp(Tensor z) {
        float[] v = backend.toHost(backend.contiguous(z)).toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (Math.tanh(v[i] / 3.0) * 3.0);
        }
        return backend.toDevice(Tensor.of(v, z.shape()));
    }
}
