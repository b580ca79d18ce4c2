// The PTX instructions that the tensor-core kernels use, one inline-asm wrapper each, so that the
// kernels themselves contain no asm: under LDM4J_EMULATE (the CPU emulator of the kernel tests,
// kernels/src/test/emu) each wrapper is the emulator's model of the instruction instead.
//   mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}: D[16x8] += A[16x16] B[16x8], fp32 accumulation;
//     m16n8k8 (A 16x8 in two registers, B 8x8 in one) for a product whose K leaves a remainder of 8.
//   ldmatrix.sync.aligned.m8n8.x{2,4}[.trans].shared.b16: 8x8 16-bit matrices from shared memory into
//     the fragment layout of mma (lanes 8i..8i+7 give the row addresses of matrix i).
//   cp.async.cg.shared.global (16 bytes, Ampere+): global -> shared without registers; bytes past
//     srcBytes are zero-filled. commit_group / wait_group<N> bound how many groups are in flight.
#pragma once

#ifdef LDM4J_EMULATE
__device__ __forceinline__ void mma_f16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    emu::mma_m16n8<16>(d, a, b, false);
}
__device__ __forceinline__ void mma_bf16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    emu::mma_m16n8<16>(d, a, b, true);
}
__device__ __forceinline__ void mma_k8_f16(float (&d)[4], const unsigned (&a)[2], unsigned b) {
    emu::mma_m16n8<8>(d, a, &b, false);
}
__device__ __forceinline__ void mma_k8_bf16(float (&d)[4], const unsigned (&a)[2], unsigned b) {
    emu::mma_m16n8<8>(d, a, &b, true);
}
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* row) { emu::ldmatrix<4>(r, row, false); }
__device__ __forceinline__ void ldmatrix_x2(unsigned (&r)[2], const void* row) { emu::ldmatrix<2>(r, row, false); }
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* row) { emu::ldmatrix<4>(r, row, true); }
__device__ __forceinline__ void ldmatrix_x2_trans(unsigned (&r)[2], const void* row) { emu::ldmatrix<2>(r, row, true); }
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int srcBytes) { emu::cp_async(dst, src, srcBytes); }
__device__ __forceinline__ void cp_async_commit() { emu::cp_async_commit(); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    emu::cp_async_wait(N);
}
#define LDM4J_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(emu_dynamic_shared())
#else
__device__ __forceinline__ void mma_f16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void mma_bf16(float (&d)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void mma_k8_f16(float (&d)[4], const unsigned (&a)[2], unsigned b) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(b));
}
__device__ __forceinline__ void mma_k8_bf16(float (&d)[4], const unsigned (&a)[2], unsigned b) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(b));
}
__device__ __forceinline__ unsigned shared_address(const void* p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(row)));
}
__device__ __forceinline__ void ldmatrix_x2(unsigned (&r)[2], const void* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(shared_address(row)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(row)));
}
__device__ __forceinline__ void ldmatrix_x2_trans(unsigned (&r)[2], const void* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(r[0]), "=r"(r[1])
                 : "r"(shared_address(row)));
}
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int srcBytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)), "l"(src),
                 "r"(srcBytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
#define LDM4J_DYNAMIC_SHARED(T, name) \
    extern __shared__ __align__(16) unsigned char ldm4j_dynamic_shared[]; \
    T* name = reinterpret_cast<T*>(ldm4j_dynamic_shared)
#endif
