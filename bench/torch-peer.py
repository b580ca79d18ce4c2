#!/usr/bin/env python3
"""PyTorch on the same machine, as the peer for bench/RESULTS.md's conv rows and the VAE decode.

Not part of the build: it needs Debian's python3-torch (apt install python3-torch, PyTorch 1.13.1 CPU, the version
issue 18 measured). Run from the repository root with the same thread count as ldm4j (all cores):
    python3 bench/torch-peer.py [threads]
Prints (1) torch.nn.functional.conv2d at the ConvBench shapes, 3x3, stride 1, padding 1, float32, as GFLOP/s counted
like ConvBench (2 N O H W C 9, so the rows compare with ldm4j's directly), best of 5 timed rounds of >= 1 s each;
(2) a decode of a [1, 4, 64, 64] latent to 512x512 by an SD 1.x/2.x VAE decoder (channels 128-256-512-512, two
resnets per level plus one, mid-block attention, group norm with 32 groups), written here from the architecture's
description with PyTorch's default initialization: 1 warm-up, then 3 timed decodes, wall and process CPU time.
"""
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads()
torch.set_num_threads(threads)
torch.manual_seed(0)


def conv_rate(n, c, h, o):
    x = torch.randn(n, c, h, h)
    w = torch.randn(o, c, 3, 3) * 0.05
    b = torch.randn(o) * 0.1
    flop = 2.0 * n * o * h * h * c * 9
    best = 0.0
    with torch.no_grad():
        F.conv2d(x, w, b, padding=1)
        for _ in range(5):
            calls, t0 = 0, time.perf_counter()
            while True:
                F.conv2d(x, w, b, padding=1)
                calls += 1
                dt = time.perf_counter() - t0
                if dt >= 1.0:
                    break
            best = max(best, flop * calls / dt / 1e9)
    return best


class Resnet(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(32, cin, eps=1e-6), nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(32, cout, eps=1e-6), nn.Conv2d(cout, cout, 3, padding=1)
        self.shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.shortcut is None else self.shortcut(x)) + h


class MidAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = nn.GroupNorm(32, c, eps=1e-6)
        self.q, self.k, self.v, self.out = (nn.Linear(c, c) for _ in range(4))

    def forward(self, x):
        n, c, h, w = x.shape
        t = self.norm(x).reshape(n, c, h * w).transpose(1, 2)
        p = torch.softmax(self.q(t) @ self.k(t).transpose(1, 2) / c ** 0.5, dim=-1)
        return x + self.out(p @ self.v(t)).transpose(1, 2).reshape(n, c, h, w)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.post_quant = nn.Conv2d(4, 4, 1)
        self.conv_in = nn.Conv2d(4, 512, 3, padding=1)
        self.mid = nn.ModuleList([Resnet(512, 512), MidAttention(512), Resnet(512, 512)])
        levels, cin, self.up = [512, 512, 256, 128], 512, nn.ModuleList()
        for i, cout in enumerate(levels):
            blocks = nn.ModuleList([Resnet(cin if j == 0 else cout, cout) for j in range(3)])
            upsample = nn.Conv2d(cout, cout, 3, padding=1) if i < len(levels) - 1 else None
            self.up.append(nn.ModuleList([blocks, upsample]) if upsample is not None else nn.ModuleList([blocks]))
            cin = cout
        self.norm_out, self.conv_out = nn.GroupNorm(32, 128, eps=1e-6), nn.Conv2d(128, 3, 3, padding=1)

    def forward(self, z):
        x = self.conv_in(self.post_quant(z))
        for m in self.mid:
            x = m(x)
        for level in self.up:
            for block in level[0]:
                x = block(x)
            if len(level) > 1:
                x = level[1](F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(x)))


print(f"torch {torch.__version__}, {threads} threads, {torch.backends.mkldnn.is_available() and 'oneDNN available' or 'no oneDNN'}")
print("conv2d 3x3 (ConvBench shapes), GFLOP/s counted as 2 N O H W C 9, best of 5:")
for n, c, h, o in [(2, 320, 64, 320), (2, 640, 32, 640), (2, 1280, 16, 1280), (2, 1280, 8, 1280), (2, 320, 32, 320),
                   (2, 640, 16, 640), (1, 512, 64, 512), (1, 512, 128, 512), (1, 256, 256, 256), (1, 128, 512, 128),
                   (16, 64, 16, 64), (16, 128, 8, 128)]:
    print(f"  {n}x{c}x{h}x{h}_{o}x3: {conv_rate(n, c, h, o):.1f}")

decoder = Decoder().eval()
z = torch.rand(1, 4, 64, 64) * 2 - 1
walls, cpus = [], []
with torch.no_grad():
    decoder(z)
    for _ in range(3):
        c0, t0 = time.process_time(), time.perf_counter()
        image = decoder(z)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
assert tuple(image.shape) == (1, 3, 512, 512), image.shape
print(f"SD VAE decoder, 512x512: wall {[round(w, 2) for w in walls]} s, median {statistics.median(walls):.2f} s; "
      f"process CPU {[round(c, 2) for c in cpus]} s, median {statistics.median(cpus):.2f} s")
