// Device-side dtype conversion: F16 and BF16 weights widened to F32 once, so the F32 kernels can read them.
#include "common.cuh"

extern "C" __global__ void convert_f16_f32(long long n, const unsigned short* src, float* dst) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        dst[i] = load_f16(src, i);
    }
}

extern "C" __global__ void convert_bf16_f32(long long n, const unsigned short* src, float* dst) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        dst[i] = load_bf16(src, i);
    }
}
