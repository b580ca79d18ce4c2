// Device-side dtype conversion: F16 and BF16 weights widened to F32 once, so the F32 kernels can read
// them; and any float dtype narrowed to F16 or BF16 (round to nearest even) once, for the tensor-core
// kernels of the FP16/BF16 modes.
#include <cuda_bf16.h>

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

// NAME(n, src, dst): dst[i] = round(LOAD(src, i)) for source element type SRC and 16-bit target.
#define NARROW(NAME, SRC, LOAD, ROUND)                                                                        \
    extern "C" __global__ void NAME(long long n, const SRC* src, unsigned short* dst) {                      \
        for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n;                          \
             i += (long long) gridDim.x * blockDim.x) {                                                       \
            dst[i] = ROUND(LOAD(src, i));                                                                     \
        }                                                                                                     \
    }

__device__ __forceinline__ unsigned short round_f16(float x) { return __half_as_ushort(__float2half_rn(x)); }
__device__ __forceinline__ unsigned short round_bf16(float x) { return __bfloat16_as_ushort(__float2bfloat16_rn(x)); }

NARROW(convert_f32_f16, float, load_f32, round_f16)
NARROW(convert_f32_bf16, float, load_f32, round_bf16)
NARROW(convert_bf16_f16, unsigned short, load_bf16, round_f16)
NARROW(convert_f16_bf16, unsigned short, load_f16, round_bf16)
