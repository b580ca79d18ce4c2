// The tensor-core attention of attention_mma.cu (pack + fused kernel) against float64 softmax attention
// over the same 16-bit q, k, v. q, k and v are read as views of one fused [B, L, 3*H*D] projection (row
// stride 3*H*D), as the U-Net's self-attention produces them. P is rounded to 16 bits before P V, so
// the bound is a few units of the operand type's rounding: 4e-3 (fp16, u = 2^-11) and 3e-2 (bf16, 2^-8).
#include "emu.h"
#include "check.h"
#include "attention_mma.cu"

using Kernel = void (*)(const unsigned short*, const unsigned short*, const unsigned short*, float*, int, int, int, float, int);

static Kernel kernel_for(int d, bool bf16) {
    switch (d) {
        case 40: return bf16 ? attention_mma_d40_bf16 : attention_mma_d40_f16;
        case 64: return bf16 ? attention_mma_d64_bf16 : attention_mma_d64_f16;
        case 80: return bf16 ? attention_mma_d80_bf16 : attention_mma_d80_f16;
        default: return bf16 ? attention_mma_d160_bf16 : attention_mma_d160_f16;
    }
}

static void run(int B, int H, int D, int lq, int lk, bool causal, bool bf16) {
    const int warps = D == 160 ? 4 : 8, bq = 16 * warps;
    const long long hd = (long long) H * D, row = 3 * hd;
    // q from one fused buffer of lq rows, k and v from another of lk rows (columns hd.. and 2hd..).
    auto fq = random_floats((size_t) B * lq * row, 11 + D, 2.0f);
    auto fkv = random_floats((size_t) B * lk * row, 12 + D, 2.0f);
    std::vector<unsigned short> pq((size_t) B * H * lq * D), pk((size_t) B * H * lk * D), pv(pk.size());
    auto pack = bf16 ? attention_pack_bf16 : attention_pack_f16;
    emu_launch(pack, dim3(3), dim3(256), 0, (const float*) fq.data(), pq.data(), lq, H, D, row, lq * row, (long long) pq.size());
    emu_launch(pack, dim3(2), dim3(256), 0, (const float*) (fkv.data() + hd), pk.data(), lk, H, D, row, lk * row, (long long) pk.size());
    emu_launch(pack, dim3(1), dim3(256), 0, (const float*) (fkv.data() + 2 * hd), pv.data(), lk, H, D, row, lk * row, (long long) pv.size());

    const float scale = 1.0f / std::sqrt((float) D);
    std::vector<float> out((size_t) B * lq * hd, NAN);
    size_t smem = (size_t) (bq + 4 * ATT_KT) * ((D / 8) % 2 ? D : D + 8) * 2;
    emu_launch(kernel_for(D, bf16), dim3((lq + bq - 1) / bq, B * H), dim3(32 * warps), smem, (const unsigned short*) pq.data(),
               (const unsigned short*) pk.data(), (const unsigned short*) pv.data(), out.data(), lq, lk, H,
               scale * 1.4426950408889634f, causal ? 1 : 0);

    std::vector<double> want(out.size());
    std::vector<double> p(lk);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < lq; i++) {
                auto qv = [&](int c) { return (double) round16(fq[(b * lq + i) * row + h * D + c], bf16); };
                double mx = -INFINITY;
                int n = causal ? std::min(lk, i + 1) : lk;
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int c = 0; c < D; c++) s += qv(c) * round16(fkv[(b * lk + j) * row + hd + h * D + c], bf16);
                    p[j] = s * scale;
                    mx = std::max(mx, p[j]);
                }
                double sum = 0;
                for (int j = 0; j < n; j++) sum += (p[j] = std::exp(p[j] - mx));
                for (int c = 0; c < D; c++) {
                    double o = 0;
                    for (int j = 0; j < n; j++) o += p[j] * round16(fkv[(b * lk + j) * row + 2 * hd + h * D + c], bf16);
                    want[(b * lq + i) * hd + h * D + c] = o / sum;
                }
            }
    char what[128];
    std::snprintf(what, sizeof what, "attention_mma %s D %d B %d H %d Lq %d Lk %d%s", bf16 ? "bf16" : "f16", D, B, H, lq,
                  lk, causal ? " causal" : "");
    check(what, out, want, bf16 ? 3e-2 : 4e-3);

    // The packed copies themselves: exactly the rounded inputs.
    std::vector<float> got(pq.size());
    std::vector<double> ref(pq.size());
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < lq; i++)
                for (int c = 0; c < D; c++) {
                    size_t e = (((size_t) b * H + h) * lq + i) * D + c;
                    got[e] = emu::half_bits(pq[e], bf16);
                    ref[e] = round16(fq[(b * lq + i) * row + h * D + c], bf16);
                }
    std::snprintf(what, sizeof what, "attention_pack %s D %d", bf16 ? "bf16" : "f16", D);
    check(what, got, ref, 0.0);
}

int main() {
    run(2, 2, 40, 130, 77, false, false);   // SD 1.x level 1 cross-attention shape (77 tokens), two query blocks
    run(1, 2, 40, 70, 150, false, true);    // three key tiles, the last partial
    run(1, 3, 64, 77, 77, true, false);     // CLIP's causal self-attention
    run(1, 1, 80, 140, 140, false, false);  // SD 1.x level 2 self-attention, odd sizes
    run(1, 1, 160, 70, 90, false, false);   // SD 1.x level 3, four-warp blocks
    run(1, 1, 160, 40, 40, true, true);
    return failures == 0 ? 0 : 1;
}
