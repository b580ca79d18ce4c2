// diffusers' AutoencoderTinyBlock (TAESD's Block): three 3x3 convolutions with ReLU between them, a
// shortcut (a 1x1 convolution without bias where the channel count changes), and ReLU after the sum:
// relu(conv4(relu(conv2(relu(conv0(x))))) + skip(x)). The checkpoint's indices 0, 2, 4 are those of
// the convolutions in torch's Sequential (1 and 3 are the ReLUs).
package dev.ldm4j.diffusion.vae;

import dev.ldm4j.nn.Conv2d;
import dev.ldm4j.nn.Params;
import dev.ldm4j.tensor.Backend;
import dev.ldm4j.tensor.Tensor;
import dev.ldm4j.tensor.TensorScope;

final class AutoencoderTinyBlock {
    private final Backend backend;
    private final Conv2d conv0;
    private final Conv2d conv2;
    private final Conv2d conv4;
    private final Conv2d skip;

    AutoencoderTinyBlock(Params p, int inChannels, int outChannels) {
        this.backend = p.backend();
        Params conv = p.child("conv");
        this.conv0 = new Conv2d(conv.child(0), inChannels, outChannels, 3, 1, 1);
        this.conv2 = new Conv2d(conv.child(2), outChannels, outChannels, 3, 1, 1);
        this.conv4 = new Conv2d(conv.child(4), outChannels, outChannels, 3, 1, 1);
        this.skip = inChannels == outChannels ? null : Conv2d.withoutBias(p.child("skip"), inChannels, outChannels, 1, 1, 0);
    }

    /** [B, Cin, H, W] -> [B, Cout, H, W]. */
    Tensor forward(Tensor x) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = conv0.forward(x);                                   // [B, Cout, H, W]
            Tensor h = relu(backend, a);
            scope.release(a);
            a = conv2.forward(h);                                          // [B, Cout, H, W]
            scope.release(h);
            h = relu(backend, a);
            scope.release(a);
            Tensor shortcut = skip == null ? x : skip.forward(x);          // [B, Cout, H, W]
            a = conv4.forwardAdd(h, shortcut);                             // [B, Cout, H, W] = conv4(h) + skip(x)
            scope.release(h);
            return scope.keep(relu(backend, a));                           // [B, Cout, H, W]
        }
    }

    /** ReLU as a clamp from below at 0 (max(x, 0)), an op every backend has. */
    static Tensor relu(Backend backend, Tensor x) {
        return backend.clamp(x, 0f, Float.POSITIVE_INFINITY);
    }
}
