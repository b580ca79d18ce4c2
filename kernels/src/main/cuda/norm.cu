// Normalizations: group norm (+ optional SiLU), layer norm over the last dimension, and softmax over the
// last dimension. One block per normalized group or row; statistics are two-pass (mean, then the mean
// of squared deviations) for accuracy, biased variance as PyTorch.
#include "common.cuh"

// x [N, C, S] dense, groups G: block b handles (n = b / G, g = b % G), i.e. C/G contiguous channels of S.
// gamma, beta [C] or null (then 1 and 0).
extern "C" __global__ void group_norm_f32(const float* x, const float* gamma, const float* beta, float* out,
                                          int c, long long s, int groups, float eps, int silu) {
    __shared__ float scratch[32];
    int cpg = c / groups;
    long long n = blockIdx.x / groups;
    int g = blockIdx.x % groups;
    long long len = (long long) cpg * s;
    const float* xg = x + (n * c + (long long) g * cpg) * s;
    float* og = out + (n * c + (long long) g * cpg) * s;
    float acc = 0.0f;
    for (long long i = threadIdx.x; i < len; i += blockDim.x) acc += xg[i];
    float mean = block_sum(acc, scratch) / (float) len;
    acc = 0.0f;
    for (long long i = threadIdx.x; i < len; i += blockDim.x) {
        float d = xg[i] - mean;
        acc += d * d;
    }
    float rstd = rsqrtf(block_sum(acc, scratch) / (float) len + eps);
    for (long long i = threadIdx.x; i < len; i += blockDim.x) {
        int ch = g * cpg + (int) (i / s);
        float y = (xg[i] - mean) * rstd;
        if (gamma) y *= gamma[ch];
        if (beta) y += beta[ch];
        if (silu) y = y / (1.0f + expf(-y));
        og[i] = y;
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
