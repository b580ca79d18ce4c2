// Pointwise and data-movement kernels: strided copies (contiguous, concat, dtype widening), broadcast
// binary ops, unary ops (activations, scale, clamp), GEGLU, nearest upsampling (2x and to a given size),
// timestep embedding, embedding lookup, and sum over one dimension. Outputs are dense row-major F32.
#include "common.cuh"

#define GRID_STRIDE(i, n) \
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < (n); i += (long long) gridDim.x * blockDim.x)

// dst[dOff(i)] = src[sOff(i)] for every logical index i of shape; both offsets from per-dim strides.
// Index arithmetic runs in 32 bits when every index fits (division is much cheaper there).
template <class I, class T, float (*LOAD)(const T*, long long)>
__device__ __forceinline__ void copy_strided_body(I n, int rank, const Dims& shape, const Dims& sstride, const Dims& dstride,
                                                  const T* src, float* dst) {
    for (I i = blockIdx.x * (I) blockDim.x + threadIdx.x; i < n; i += (I) gridDim.x * blockDim.x) {
        I rest = i, so = 0, d = 0;
        for (int a = rank - 1; a >= 0; a--) {
            I extent = (I) shape.v[a];
            I c = rest % extent;
            rest /= extent;
            so += c * (I) sstride.v[a];
            d += c * (I) dstride.v[a];
        }
        dst[d] = LOAD(src, so);
    }
}

#define COPY_STRIDED(NAME, T, LOAD)                                                                   \
    extern "C" __global__ void NAME(long long n, int rank, Dims shape, Dims sstride, Dims dstride,    \
                                    const T* src, float* dst, int narrow) {                           \
        if (narrow) copy_strided_body<int, T, LOAD>((int) n, rank, shape, sstride, dstride, src, dst); \
        else copy_strided_body<long long, T, LOAD>(n, rank, shape, sstride, dstride, src, dst);       \
    }

COPY_STRIDED(copy_strided_f32, float, load_f32)
COPY_STRIDED(copy_strided_f16, unsigned short, load_f16)
COPY_STRIDED(copy_strided_bf16, unsigned short, load_bf16)

// Rows of len elements, unit-stride in both src and dst (a concat's part, a slice's rows): the host has
// merged dimensions so that rows = n / len is indexed by dims 0..rank-2 of shape; each block takes whole
// rows and its threads the columns, so the per-element index math of copy_strided is paid once per row.
template <class T, float (*LOAD)(const T*, long long)>
__device__ __forceinline__ void copy_rows_body(long long rows, long long len, int rank, const Dims& shape,
                                               const Dims& sstride, const Dims& dstride, const T* src, float* dst) {
    for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
        long long rest = r, so = 0, d = 0;
        for (int a = rank - 2; a >= 0; a--) {
            long long c = rest % shape.v[a];
            rest /= shape.v[a];
            so += c * sstride.v[a];
            d += c * dstride.v[a];
        }
        for (long long j = threadIdx.x; j < len; j += blockDim.x) dst[d + j] = LOAD(src, so + j);
    }
}

#define COPY_ROWS(NAME, T, LOAD)                                                                      \
    extern "C" __global__ void NAME(long long rows, long long len, int rank, Dims shape, Dims sstride, \
                                    Dims dstride, const T* src, float* dst) {                          \
        copy_rows_body<T, LOAD>(rows, len, rank, shape, sstride, dstride, src, dst);                   \
    }

COPY_ROWS(copy_rows_f32, float, load_f32)
COPY_ROWS(copy_rows_f16, unsigned short, load_f16)
COPY_ROWS(copy_rows_bf16, unsigned short, load_bf16)

// A batch of transposes: dst[b][r][c] = src[b][r][c] where src is unit-stride along r and dst along c (a
// permute such as [B, C, HW] -> [B, HW, C]). Each block moves a 32 x 32 tile through shared memory
// (padded by one column against bank conflicts): it reads 32 columns' runs of r coalesced, writes 32
// rows' runs of c coalesced. Block 32 x 8 threads; grid (tiles of c, tiles of r, batches).
template <class T, float (*LOAD)(const T*, long long)>
__device__ __forceinline__ void transpose_body(int rowsR, int colsC, long long srcB, long long srcC, long long dstB,
                                               long long dstR, const T* src, float* dst) {
    __shared__ float tile[32][33];
    const int c0 = blockIdx.x * 32, r0 = blockIdx.y * 32, tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
    const T* sb = src + blockIdx.z * srcB;
    float* db = dst + blockIdx.z * dstB;
    for (int i = ty; i < 32; i += 8) {
        int c = c0 + i, r = r0 + tx;
        if (c < colsC && r < rowsR) tile[i][tx] = LOAD(sb, c * srcC + r);
    }
    __syncthreads();
    for (int i = ty; i < 32; i += 8) {
        int r = r0 + i, c = c0 + tx;
        if (r < rowsR && c < colsC) db[r * dstR + c] = tile[tx][i];
    }
}

#define TRANSPOSE(NAME, T, LOAD)                                                                             \
    extern "C" __global__ void __launch_bounds__(256) NAME(int rowsR, int colsC, long long srcB, long long srcC, \
                                                           long long dstB, long long dstR, const T* src, float* dst) { \
        transpose_body<T, LOAD>(rowsR, colsC, srcB, srcC, dstB, dstR, src, dst);                             \
    }

TRANSPOSE(transpose_f32, float, load_f32)
TRANSPOSE(transpose_f16, unsigned short, load_f16)
TRANSPOSE(transpose_bf16, unsigned short, load_bf16)

// Binary op codes: 0 add, 1 sub, 2 mul.
__device__ __forceinline__ float binary_op(float a, float b, int op) {
    return op == 0 ? a + b : op == 1 ? a - b : a * b;
}

// out (dense, shape) = a op b where a and b are read through broadcast strides (0 on broadcast dims);
// narrow: every index fits in 32 bits.
template <class I>
__device__ __forceinline__ void binary_body(I n, int rank, const Dims& shape, const Dims& astride, const Dims& bstride,
                                            const float* a, const float* b, float* out, int op) {
    for (I i = blockIdx.x * (I) blockDim.x + threadIdx.x; i < n; i += (I) gridDim.x * blockDim.x) {
        I rest = i, ao = 0, bo = 0;
        for (int d = rank - 1; d >= 0; d--) {
            I extent = (I) shape.v[d];
            I c = rest % extent;
            rest /= extent;
            ao += c * (I) astride.v[d];
            bo += c * (I) bstride.v[d];
        }
        out[i] = binary_op(a[ao], b[bo], op);
    }
}

extern "C" __global__ void binary_f32(long long n, int rank, Dims shape, Dims astride, Dims bstride,
                                      const float* a, const float* b, float* out, int op, int narrow) {
    if (narrow) binary_body<int>((int) n, rank, shape, astride, bstride, a, b, out, op);
    else binary_body<long long>(n, rank, shape, astride, bstride, a, b, out, op);
}

// The same-shape, both-dense case.
extern "C" __global__ void binary_dense_f32(long long n, const float* a, const float* b, float* out, int op) {
    GRID_STRIDE(i, n) {
        out[i] = binary_op(a[i], b[i], op);
    }
}

// Unary op codes: 0 activation act, 1 x * s, 2 clamp to [lo, hi].
extern "C" __global__ void unary_f32(long long n, const float* x, float* out, int op, int act, float s, float lo, float hi) {
    GRID_STRIDE(i, n) {
        float v = x[i];
        out[i] = op == 0 ? apply_act(v, act) : op == 1 ? v * s : fminf(fmaxf(v, lo), hi);
    }
}

// GEGLU: x [rows, 2F] -> out [rows, F] = x[:, :F] * gelu(x[:, F:]).
extern "C" __global__ void geglu_f32(long long rows, int f, const float* x, float* out) {
    GRID_STRIDE(i, rows * f) {
        long long r = i / f;
        int c = (int) (i - r * f);
        const float* row = x + r * 2 * (long long) f;
        out[i] = row[c] * gelu_exact(row[f + c]);
    }
}

// Nearest 2x: x [planes, H, W] -> out [planes, 2H, 2W].
extern "C" __global__ void upsample_nearest2x_f32(long long planes, int h, int w, const float* x, float* out) {
    long long ow = 2LL * w, plane = 4LL * h * w;
    GRID_STRIDE(i, planes * plane) {
        long long p = i / plane, r = i - p * plane;
        long long oy = r / ow, ox = r - oy * ow;
        out[i] = x[p * h * (long long) w + (oy >> 1) * w + (ox >> 1)];
    }
}

// PyTorch's nearest_idx (aten/src/ATen/native/UpSample.h): the source index output index d reads when a
// side of n becomes m. scale = n / m, rounded to float on the host as PyTorch does; the product is a float
// too, so this is floor(d * n / m) except where that rounding lands just below an integer.
__device__ __forceinline__ int nearest_source(int d, int n, int m, float scale) {
    if (m == n) return d;
    if (m == 2 * n) return d >> 1;
    return min((int) floorf((float) d * scale), n - 1);
}

// Nearest resize of planes x [h, w] (dense) to [oh, ow] (F.interpolate(size=...), mode="nearest"): one
// thread per output element. The U-Net's upsamplers at odd latent sizes; exact 2x uses the kernel above.
extern "C" __global__ void upsample_nearest_f32(long long planes, int h, int w, int oh, int ow, float scaleH,
                                                float scaleW, const float* x, float* out) {
    long long plane = (long long) oh * ow;
    GRID_STRIDE(i, planes * plane) {
        long long p = i / plane;
        int r = (int) (i - p * plane);
        int oy = r / ow, ox = r - oy * ow;
        out[i] = x[p * h * (long long) w + (long long) nearest_source(oy, h, oh, scaleH) * w + nearest_source(ox, w, ow, scaleW)];
    }
}

// diffusers get_timestep_embedding (max_period 10000): out [n, dim]. Computed in double (a handful of
// values per step) so the result is the correctly rounded float of the formula.
extern "C" __global__ void timestep_embedding_f32(int n, int dim, const float* t, float* out, int flip, float shift) {
    int half = dim / 2;
    GRID_STRIDE(i, (long long) n * dim) {
        int r = (int) (i / dim), c = (int) (i - (long long) r * dim);
        float v = 0.0f;
        if (c < 2 * half) {
            bool first = c < half;
            int f = first ? c : c - half;
            double freq = exp(-9.210340371976184 * (double) f / ((double) half - (double) shift));
            double arg = (double) t[r] * freq;
            bool sinPart = flip ? !first : first;
            v = (float) (sinPart ? sin(arg) : cos(arg));
        }
        out[i] = v;
    }
}

// Embedding lookup: out [n, d] = table[ids[i], :], table [V, d] dense.
#define EMBEDDING(NAME, T, LOAD)                                                                      \
    extern "C" __global__ void NAME(int n, int d, const int* ids, const T* table, float* out) {       \
        GRID_STRIDE(i, (long long) n * d) {                                                           \
            long long r = i / d, c = i - r * d;                                                       \
            out[i] = LOAD(table, (long long) ids[r] * d + c);                                         \
        }                                                                                             \
    }

EMBEDDING(embedding_f32, float, load_f32)
EMBEDDING(embedding_f16, unsigned short, load_f16)
EMBEDDING(embedding_bf16, unsigned short, load_bf16)

// x viewed as [outer, len, inner] -> out [outer, inner] = mul * sum over len; one thread per output.
extern "C" __global__ void reduce_sum_f32(long long outer, long long len, long long inner, const float* x, float* out, float mul) {
    GRID_STRIDE(i, outer * inner) {
        long long o = i / inner, in = i - o * inner;
        const float* p = x + o * len * inner + in;
        float acc = 0.0f;
        for (long long j = 0; j < len; j++) acc += p[j * inner];
        out[i] = acc * mul;
    }
}
