// A CPU emulator for ldm4j's CUDA kernel sources, for checking their indexing, tiling and tensor-core
// fragment layouts where no GPU exists (the kernels' .cu files compile here as C++ with g++).
//
// Model: a launch runs its blocks one after another; the threads of a block are real threads (so
// __syncthreads is a barrier over them) and `__shared__` variables are function-static, so every
// thread of the running block sees the same copy. The warp-wide operations (shuffles, mma.sync,
// ldmatrix) are collective: each lane deposits its operands in its warp's exchange area, the warp meets
// at a barrier, each lane computes its own result from all 32 deposits, and the warp meets again before
// the area is reused. cp.async copies are held per thread and carried out only when a
// cp.async.wait_group lets their group complete (all committed groups but the newest N, in order), so a
// read of shared memory before the matching wait sees the old contents: a missing or misplaced wait
// shows up as wrong numbers. Compiled with LDM4J_EMU_CP_ASYNC_IMMEDIATE, copies land at once instead
// (the other extreme the hardware allows), which can expose a copy issued into a buffer other threads
// are still reading (a missing barrier before a refill; a race, so not on every run); the tests run
// every check both ways. Other data
// races and speed are not modelled. mma products accumulate in
// double before rounding to float, which differs from the hardware's fp32 accumulation only in the
// last bits. The emulated instructions follow the PTX ISA's fragment tables (sections "Matrix
// Fragments for mma.m16n8k16 with floating point type" and "ldmatrix").
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <vector_functions.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#define LDM4J_EMULATE 1

#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __forceinline__
#undef __noinline__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#ifndef __align__
#define __align__(n) alignas(n)
#endif

using std::max;
using std::min;

namespace emu {

struct Warp {
    std::barrier<> bar{32};
    unsigned char slot[32][64];  // each lane's deposit
};

struct Block {
    std::unique_ptr<std::barrier<>> bar;
    std::vector<std::unique_ptr<Warp>> warps;
    std::vector<unsigned char> dynamicShared;
};

inline Block* block = nullptr;

}  // namespace emu

inline thread_local uint3 threadIdx;
inline uint3 blockIdx;
inline dim3 blockDim, gridDim;

inline void __syncthreads() { emu::block->bar->arrive_and_wait(); }
inline int emu_lane() { return threadIdx.x & 31; }
inline emu::Warp& emu_warp() { return *emu::block->warps[threadIdx.x >> 5]; }
inline void __syncwarp(unsigned = 0xffffffffu) { emu_warp().bar.arrive_and_wait(); }

// Deposits v, meets the warp, hands f the deposits of all lanes, meets again.
template <class T, class F>
inline auto emu_exchange(const T& v, F f) {
    emu::Warp& w = emu_warp();
    std::memcpy(w.slot[emu_lane()], &v, sizeof(T));
    w.bar.arrive_and_wait();
    auto r = f([&](int lane) {
        T t;
        std::memcpy(&t, w.slot[lane], sizeof(T));
        return t;
    });
    w.bar.arrive_and_wait();
    return r;
}

template <class T>
inline T __shfl_xor_sync(unsigned, T v, int mask) {
    return emu_exchange(v, [&](auto at) { return at(emu_lane() ^ mask); });
}

template <class T>
inline T __shfl_sync(unsigned, T v, int src) {
    return emu_exchange(v, [&](auto at) { return at(src & 31); });
}

inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
template <class T, class V>
inline void __stcg(T* p, V v) { *p = v; }
template <class T>
inline T __ldg(const T* p) { return *p; }
inline float __expf(float x) { return std::exp(x); }
inline float exp2f(float x) { return std::exp2(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float fmaxf(float a, float b) { return std::fmax(a, b); }
inline float fminf(float a, float b) { return std::fmin(a, b); }

// The emulated tensor-core and data-movement instructions (see ptx_ops.cuh for the real ones).
namespace emu {

inline float half_bits(unsigned short b, bool bf16) {
    if (bf16) return __uint_as_float(((unsigned) b) << 16);
    return __half2float(__ushort_as_half(b));
}

// mma.sync.aligned.m16n8k{16,8}.row.col.f32.{f16,bf16}.{f16,bf16}.f32: D = A B + C. With g = lane / 4
// and t = lane % 4, lane holds A[g][2t..2t+1] (reg 0), A[g+8][2t..] (1), and for K = 16 also
// A[g][2t+8..] (2), A[g+8][2t+8..] (3); B[2t..2t+1][g] (reg 0) and for K = 16 B[2t+8..2t+9][g] (1);
// C and D [g][2t..2t+1] (0, 1) and [g+8][2t..2t+1] (2, 3). The lower k sits in a register's low half.
template <int K>
inline void mma_m16n8(float (&d)[4], const unsigned* a, const unsigned* b, bool bf16) {
    struct Frag {
        unsigned a[4], b[2];
        float c[4];
    } mine{};
    std::memcpy(mine.a, a, sizeof(unsigned) * (K / 4));
    std::memcpy(mine.b, b, sizeof(unsigned) * (K / 8));
    std::memcpy(mine.c, d, sizeof mine.c);
    struct Out { float d[4]; };
    Out out = emu_exchange(mine, [&](auto at) {
        auto A = [&](int r, int k) {
            Frag f = at((r % 8) * 4 + (k % 8) / 2);
            unsigned reg = f.a[(r >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)];
            return half_bits((unsigned short) (k % 2 ? reg >> 16 : reg & 0xffff), bf16);
        };
        auto B = [&](int k, int n) {
            Frag f = at(n * 4 + (k % 8) / 2);
            unsigned reg = f.b[k >= 8 ? 1 : 0];
            return half_bits((unsigned short) (k % 2 ? reg >> 16 : reg & 0xffff), bf16);
        };
        int lane = emu_lane(), g = lane / 4, t = lane % 4;
        Out o;
        for (int i = 0; i < 4; i++) {
            int r = g + (i >= 2 ? 8 : 0), n = 2 * t + (i % 2);
            double s = at(lane).c[i];
            for (int k = 0; k < K; k++) s += (double) A(r, k) * (double) B(k, n);
            o.d[i] = (float) s;
        }
        return o;
    });
    std::memcpy(d, out.d, sizeof out.d);
}

// ldmatrix.sync.aligned.m8n8.xN[.trans].shared.b16: lanes 8i..8i+7 give the row addresses of matrix i.
template <int N>
inline void ldmatrix(unsigned (&r)[N], const void* row, bool trans) {
    struct Regs { unsigned v[4]; };
    Regs out = emu_exchange(row, [&](auto at) {
        int lane = emu_lane();
        Regs o{};
        for (int i = 0; i < N; i++) {
            auto elem = [&](int rr, int cc) {
                unsigned short v;
                std::memcpy(&v, static_cast<const unsigned char*>(at(8 * i + rr)) + 2 * cc, 2);
                return (unsigned) v;
            };
            int r0 = lane / 4, c0 = 2 * (lane % 4);
            unsigned lo = trans ? elem(c0, r0) : elem(r0, c0);
            unsigned hi = trans ? elem(c0 + 1, r0) : elem(r0, c0 + 1);
            o.v[i] = lo | (hi << 16);
        }
        return o;
    });
    for (int i = 0; i < N; i++) r[i] = out.v[i];
}

// cp.async: copies wait in the issuing thread's open group until committed, and run when a wait lets
// their group complete.
struct AsyncCopy {
    void* dst;
    const void* src;
    int bytes;
};
inline thread_local std::vector<AsyncCopy> openGroup;
inline thread_local std::vector<std::vector<AsyncCopy>> committedGroups;

inline void cp_async(void* dst, const void* src, int bytes) {
#ifdef LDM4J_EMU_CP_ASYNC_IMMEDIATE
    std::memcpy(dst, src, bytes);
    std::memset(static_cast<char*>(dst) + bytes, 0, 16 - bytes);
#else
    openGroup.push_back({dst, src, bytes});
#endif
}
inline void cp_async_commit() {
    committedGroups.push_back(std::move(openGroup));
    openGroup.clear();
}
inline void cp_async_wait(int newest) {
    while ((int) committedGroups.size() > newest) {
        for (const AsyncCopy& c : committedGroups.front()) {
            std::memcpy(c.dst, c.src, c.bytes);
            std::memset(static_cast<char*>(c.dst) + c.bytes, 0, 16 - c.bytes);
        }
        committedGroups.erase(committedGroups.begin());
    }
}
inline void cp_async_reset() {
    openGroup.clear();
    committedGroups.clear();
}

}  // namespace emu

// Runs kernel(args...) over grid x block threads with `shared` bytes of dynamic shared memory.
template <class... P, class... A>
inline void emu_launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t shared, A... args) {
    int threads = block.x * block.y * block.z;
    if (block.y != 1 || block.z != 1 || threads % 32 != 0) {
        std::fprintf(stderr, "emu: blocks must be 1-D with a multiple of 32 threads\n");
        std::exit(2);
    }
    gridDim = grid;
    blockDim = block;
    emu::Block b;
    b.bar = std::make_unique<std::barrier<>>(threads);
    for (int w = 0; w < threads / 32; w++) b.warps.push_back(std::make_unique<emu::Warp>());
    b.dynamicShared.assign(shared + 16, 0x7F);
    emu::block = &b;
    for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
            for (unsigned x = 0; x < grid.x; x++) {
                blockIdx = {x, y, z};
                // Dynamic shared memory starts as NaN/huge patterns (0x7F bytes) in every block, so a kernel
                // reading what it did not write shows up as wrong numbers.
                std::fill(b.dynamicShared.begin(), b.dynamicShared.end(), (unsigned char) 0x7F);
                std::vector<std::thread> ts;
                for (int t = 0; t < threads; t++)
                    ts.emplace_back([&, t] {
                        threadIdx = {(unsigned) t, 0, 0};
                        emu::cp_async_reset();
                        kernel(args...);
                    });
                for (auto& t : ts) t.join();
            }
    emu::block = nullptr;
}

inline void* emu_dynamic_shared() {
    uintptr_t p = reinterpret_cast<uintptr_t>(emu::block->dynamicShared.data());
    return reinterpret_cast<void*>((p + 15) & ~uintptr_t(15));
}
