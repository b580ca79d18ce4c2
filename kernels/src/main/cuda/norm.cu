// Normalizations: group norm (+ optional SiLU), layer norm over the last dimension, and softmax over the
// last dimension. Statistics are two-pass (mean, then the mean of squared deviations) for accuracy,
// biased variance as PyTorch.
#include "common.cuh"

// Group norm of x [N, C, S] dense with G groups, in three steps so that large groups (the VAE's
// 128 channels at 512x512) spread over many blocks:
//  1. group_norm_partial_f32: block (ng, split) takes one chunk of group ng = n*G + g (C/G contiguous
//     channels of S) and writes the chunk's count, mean and sum of squared deviations (two passes);
//  2. group_norm_combine_f32: one thread per group merges its chunks with Chan et al.'s pairwise
//     update (n = na + nb, delta = mb - ma, mean = ma + delta nb / n, M2 = M2a + M2b + delta^2 na nb / n),
//     in double, into mean and 1/sqrt(var + eps) (biased variance, as PyTorch);
//  3. group_norm_apply_f32: y = (x - mean) rstd * gamma[c] + beta[c], then SiLU when asked.
extern "C" __global__ void group_norm_partial_f32(const float* x, float* partial, int c, long long s, int groups,
                                                  long long chunk) {
    __shared__ float scratch[32];
    int cpg = c / groups;
    long long ng = blockIdx.x;
    int split = blockIdx.y;
    long long len = (long long) cpg * s;
    long long n = ng / groups, g = ng % groups;
    const float* xg = x + (n * c + g * cpg) * s;
    long long lo = split * chunk, hi = min(len, lo + chunk);
    long long cnt = hi > lo ? hi - lo : 0;
    float acc = 0.0f;
    for (long long i = lo + threadIdx.x; i < hi; i += blockDim.x) acc += xg[i];
    float mean = cnt > 0 ? block_sum(acc, scratch) / (float) cnt : 0.0f;
    acc = 0.0f;
    for (long long i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        float d = xg[i] - mean;
        acc += d * d;
    }
    float m2 = block_sum(acc, scratch);
    if (threadIdx.x == 0) {
        float* p = partial + (ng * gridDim.y + split) * 3;
        p[0] = (float) cnt;
        p[1] = mean;
        p[2] = m2;
    }
}

extern "C" __global__ void group_norm_combine_f32(const float* partial, float* stats, int groupsTotal, int splits, float eps) {
    int ng = blockIdx.x * blockDim.x + threadIdx.x;
    if (ng >= groupsTotal) return;
    double n = 0, mean = 0, m2 = 0;
    for (int i = 0; i < splits; i++) {
        const float* p = partial + ((long long) ng * splits + i) * 3;
        double nb = p[0];
        if (nb == 0) continue;
        double delta = (double) p[1] - mean, tot = n + nb;
        mean += delta * nb / tot;
        m2 += (double) p[2] + delta * delta * n * nb / tot;
        n = tot;
    }
    stats[2 * ng] = (float) mean;
    stats[2 * ng + 1] = (float) (1.0 / sqrt(m2 / n + (double) eps));
}

// gamma, beta [C] or null (then 1 and 0).
extern "C" __global__ void group_norm_apply_f32(const float* x, const float* stats, const float* gamma, const float* beta,
                                                float* out, long long total, int c, long long s, int groups, int silu) {
    int cpg = c / groups;
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < total; i += (long long) gridDim.x * blockDim.x) {
        long long row = i / s;
        int ch = (int) (row % c);
        long long n = row / c;
        long long ng = n * groups + ch / cpg;
        float y = (x[i] - stats[2 * ng]) * stats[2 * ng + 1];
        if (gamma) y *= gamma[ch];
        if (beta) y += beta[ch];
        if (silu) y = y / (1.0f + expf(-y));
        out[i] = y;
    }
}

// x [rows, d] dense; one block per row; gamma, beta [d] or null.
extern "C" __global__ void layer_norm_f32(const float* x, const float* gamma, const float* beta, float* out, int d, float eps) {
    __shared__ float scratch[32];
    const float* xr = x + blockIdx.x * (long long) d;
    float* orow = out + blockIdx.x * (long long) d;
    float acc = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) acc += xr[i];
    float mean = block_sum(acc, scratch) / (float) d;
    acc = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float t = xr[i] - mean;
        acc += t * t;
    }
    float rstd = rsqrtf(block_sum(acc, scratch) / (float) d + eps);
    for (int i = threadIdx.x; i < d; i += blockDim.x) {
        float y = (xr[i] - mean) * rstd;
        if (gamma) y *= gamma[i];
        if (beta) y += beta[i];
        orow[i] = y;
    }
}

// x [rows, d] dense; one block per row: exp(x - max) / sum.
extern "C" __global__ void softmax_f32(const float* x, float* out, int d) {
    __shared__ float scratch[32];
    const float* xr = x + blockIdx.x * (long long) d;
    float* orow = out + blockIdx.x * (long long) d;
    float m = -INFINITY;
    for (int i = threadIdx.x; i < d; i += blockDim.x) m = fmaxf(m, xr[i]);
    m = block_max(m, scratch);
    float acc = 0.0f;
    for (int i = threadIdx.x; i < d; i += blockDim.x) acc += expf(xr[i] - m);
    float inv = 1.0f / block_sum(acc, scratch);
    for (int i = threadIdx.x; i < d; i += blockDim.x) orow[i] = expf(xr[i] - m) * inv;
}
