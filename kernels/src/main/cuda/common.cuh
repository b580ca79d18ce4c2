// Helpers shared by every ldm4j kernel file: the strided-shape argument, dtype loads, the pointwise
// activations (the same scalar definitions as dev.ldm4j.tensor.Activation) and warp/block reductions.
#pragma once
#include <cuda_fp16.h>

#define LDM4J_MAX_RANK 8

// Up to 8 sizes or element strides, passed by value (a long[8] on the Java side).
struct Dims {
    long long v[LDM4J_MAX_RANK];
};

// Element loads that widen F16 and BF16 to float.
__device__ __forceinline__ float load_f32(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float load_f16(const unsigned short* p, long long i) {
    return __half2float(__ushort_as_half(p[i]));
}
__device__ __forceinline__ float load_bf16(const unsigned short* p, long long i) {
    return __uint_as_float(((unsigned int) p[i]) << 16);
}

// Activation codes, as CudaBackend passes them: 0 none, 1 SiLU, 2 exact GELU, 3 tanh GELU, 4 quick GELU.
__device__ __forceinline__ float gelu_exact(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

__device__ __forceinline__ float apply_act(float x, int act) {
    switch (act) {
        case 1: return x / (1.0f + expf(-x));
        case 2: return gelu_exact(x);
        case 3: {
            float u = 0.79788456080286536f * (x + 0.044715f * x * x * x);
            return 0.5f * x * (1.0f + tanhf(u));
        }
        case 4: return x / (1.0f + expf(-1.702f * x));
        default: return x;
    }
}

// The same, not inlined: for epilogues that would otherwise inline every activation per output element.
__device__ __noinline__ float apply_act_call(float x, int act) { return apply_act(x, act); }

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ __forceinline__ float block_sum(float v, float* scratch /* 32 floats */) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(t);
}

__device__ __forceinline__ float block_max(float v, float* scratch /* 32 floats */) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : -INFINITY;
    return warp_max(t);
}
