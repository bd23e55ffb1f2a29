// cuda_sim.h — lets the host C++ compiler build kernels/*.cu unchanged, to run them on the simulated device.
//
// The same idea as llm.c's cuda_to_hip.h, pointed at the CPU: CUDA's qualifiers, built-in variables,
// intrinsics, atomics and warp primitives are mapped to host code and to sim_runtime.cpp, which runs one
// fiber per CUDA thread and one block at a time per host thread. The simulator builds every kernel file
// with this header force-included (g++ -include sim/cuda_sim.h); NVRTC never sees it.
//
// Semantics kept on purpose:
// - __shared__ variables are per block: a block runs on one host thread, and __shared__ is thread_local.
// - A thread only gives way at __syncthreads*, __syncwarp and the warp shuffles and votes; everything else
//   runs to completion, so memory a block's threads race on must be ordered by those, as on the GPU.
// - Misuse that the GPU punishes with a hang or garbage (a warp primitive whose mask names a lane that
//   exited or waits elsewhere, a misaligned 128-bit access) fails the launch with a message instead.
#pragma once

#define FASTPREFIX_SIM 1

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <type_traits>

// ---- qualifiers ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static thread_local
#define __constant__ static const

// ---- vector and index types ----
struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct __align__(8) int2 { int x, y; };
struct __align__(16) int4 { int x, y, z, w; };
struct __align__(16) uint4 { unsigned x, y, z, w; };
struct __align__(8) float2 { float x, y; };
struct __align__(16) float4 { float x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

namespace fp_sim {

// What the runtime keeps per simulated CUDA thread; the kernel reads its indices from here.
struct Thread {
    void* sp;                 // saved stack pointer while switched out
    uint3 thread_idx;
    uint3 block_idx;
    dim3 block_dim;
    dim3 grid_dim;
    unsigned lane, warp, linear;
};

enum WarpOpKind { ShflIdx, ShflUp, ShflDown, ShflXor, Ballot, Any, All, SyncWarp };
enum BarrierKind { BarrierPlain, BarrierCount, BarrierAnd, BarrierOr };

} // namespace fp_sim

namespace fp_sim {
// Fiber stacks are this size and aligned to it, with the Thread* stored at the top: a fiber finds itself from
// its stack pointer, without thread-local storage (a library loaded into a large process may find no static
// TLS left, and dynamic TLS costs a call per access).
constexpr unsigned long StackBytes = 128 * 1024;

inline Thread* current_thread() {
    uintptr_t sp;
#if defined(__x86_64__)
    asm("mov %%rsp, %0" : "=r"(sp));
#else
    sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
#endif
    return *reinterpret_cast<Thread**>((sp & ~(StackBytes - 1)) + StackBytes - 16);
}
} // namespace fp_sim

extern "C" {
unsigned long long fp_sim_warp_op(int kind, unsigned mask, unsigned long long value, int b, int c);
int fp_sim_barrier(int kind, int predicate);
void* fp_sim_dynamic_shared();
[[noreturn]] void fp_sim_fail(const char* message);
}

// ---- built-in variables ----
#define threadIdx (fp_sim::current_thread()->thread_idx)
#define blockIdx (fp_sim::current_thread()->block_idx)
#define blockDim (fp_sim::current_thread()->block_dim)
#define gridDim (fp_sim::current_thread()->grid_dim)
constexpr int warpSize = 32;

// The compiler must not keep shared memory in registers across a point where other fibers run.
#define FP_SIM_COMPILER_BARRIER() asm volatile("" ::: "memory")

// ---- block barriers ----
inline void __syncthreads() { FP_SIM_COMPILER_BARRIER(); fp_sim_barrier(fp_sim::BarrierPlain, 0); FP_SIM_COMPILER_BARRIER(); }
inline int __syncthreads_count(int p) { FP_SIM_COMPILER_BARRIER(); int r = fp_sim_barrier(fp_sim::BarrierCount, p != 0); FP_SIM_COMPILER_BARRIER(); return r; }
inline int __syncthreads_and(int p) { FP_SIM_COMPILER_BARRIER(); int r = fp_sim_barrier(fp_sim::BarrierAnd, p != 0); FP_SIM_COMPILER_BARRIER(); return r; }
inline int __syncthreads_or(int p) { FP_SIM_COMPILER_BARRIER(); int r = fp_sim_barrier(fp_sim::BarrierOr, p != 0); FP_SIM_COMPILER_BARRIER(); return r; }

// ---- warp primitives: the runtime exchanges values among the lanes named in the mask ----
// b and c follow PTX shfl.sync: c packs the segment mask (bits 8..12) and the clamp lane (bits 0..4).
namespace fp_sim {
template <class T> inline T warp_exchange(int kind, unsigned mask, T value, int b, int c) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffled values are 1 to 8 bytes");
    unsigned long long bits = 0;
    memcpy(&bits, &value, sizeof(T));
    FP_SIM_COMPILER_BARRIER();
    bits = fp_sim_warp_op(kind, mask, bits, b, c);
    FP_SIM_COMPILER_BARRIER();
    T result;
    memcpy(&result, &bits, sizeof(T));
    return result;
}
} // namespace fp_sim

template <class T> inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = 32) {
    return fp_sim::warp_exchange(fp_sim::ShflIdx, mask, var, srcLane, ((32 - width) << 8) | 0x1f);
}
template <class T> inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    return fp_sim::warp_exchange(fp_sim::ShflUp, mask, var, (int)delta, (32 - width) << 8);
}
template <class T> inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
    return fp_sim::warp_exchange(fp_sim::ShflDown, mask, var, (int)delta, ((32 - width) << 8) | 0x1f);
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = 32) {
    return fp_sim::warp_exchange(fp_sim::ShflXor, mask, var, laneMask, ((32 - width) << 8) | 0x1f);
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
    return (unsigned)fp_sim::warp_exchange<unsigned long long>(fp_sim::Ballot, mask, predicate != 0, 0, 0);
}
inline int __any_sync(unsigned mask, int predicate) {
    return (int)fp_sim::warp_exchange<unsigned long long>(fp_sim::Any, mask, predicate != 0, 0, 0);
}
inline int __all_sync(unsigned mask, int predicate) {
    return (int)fp_sim::warp_exchange<unsigned long long>(fp_sim::All, mask, predicate != 0, 0, 0);
}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
    fp_sim::warp_exchange<unsigned long long>(fp_sim::SyncWarp, mask, 0, 0, 0);
}

// ---- memory fences and atomics (blocks may run on several host threads: real atomics) ----
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#define FP_SIM_INTEGER_ATOMICS(T)                                                                     \
    inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }              \
    inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }              \
    inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }            \
    inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }              \
    inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }                \
    inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }              \
    inline T atomicCAS(T* a, T expected, T desired) {                                                 \
        __atomic_compare_exchange_n(a, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
        return expected;                                                                              \
    }                                                                                                 \
    inline T atomicMax(T* a, T v) {                                                                   \
        T old = __atomic_load_n(a, __ATOMIC_SEQ_CST);                                                 \
        while (old < v && !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {} \
        return old;                                                                                   \
    }                                                                                                 \
    inline T atomicMin(T* a, T v) {                                                                   \
        T old = __atomic_load_n(a, __ATOMIC_SEQ_CST);                                                 \
        while (old > v && !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {} \
        return old;                                                                                   \
    }
FP_SIM_INTEGER_ATOMICS(int)
FP_SIM_INTEGER_ATOMICS(unsigned)
FP_SIM_INTEGER_ATOMICS(unsigned long long)
FP_SIM_INTEGER_ATOMICS(long long)
#undef FP_SIM_INTEGER_ATOMICS

// Floating-point atomics as compare-and-swap loops on the bits (what the GPU does in one instruction).
template <class F, class U> inline F fp_sim_atomic_float_add(F* address, F value) {
    U* bits = reinterpret_cast<U*>(address);
    U old = __atomic_load_n(bits, __ATOMIC_SEQ_CST), desired;
    F current;
    do {
        memcpy(&current, &old, sizeof(F));
        F sum = current + value;
        memcpy(&desired, &sum, sizeof(F));
    } while (!__atomic_compare_exchange_n(bits, &old, desired, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    return current;
}
inline float atomicAdd(float* a, float v) { return fp_sim_atomic_float_add<float, unsigned>(a, v); }
inline double atomicAdd(double* a, double v) { return fp_sim_atomic_float_add<double, unsigned long long>(a, v); }

// ---- math: the CUDA names of the host's libm functions, and the bit-level intrinsics ----
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float exp10f(float x) { return powf(10.0f, x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float fdividef(float x, float y) { return x / y; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __frsqrt_rn(float x) { return 1.0f / sqrtf(x); }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fadd_rn(float x, float y) { return x + y; }
inline float __fmul_rn(float x, float y) { return x * y; }
inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
inline float __saturatef(float x) { return x > 0.0f ? (x < 1.0f ? x : 1.0f) : 0.0f; }   // NaN -> 0, as CUDA
inline int __float_as_int(float x) { int r; memcpy(&r, &x, 4); return r; }
inline unsigned __float_as_uint(float x) { unsigned r; memcpy(&r, &x, 4); return r; }
inline float __int_as_float(int x) { float r; memcpy(&r, &x, 4); return r; }
inline float __uint_as_float(unsigned x) { float r; memcpy(&r, &x, 4); return r; }
inline long long __double_as_longlong(double x) { long long r; memcpy(&r, &x, 8); return r; }
inline double __longlong_as_double(long long x) { double r; memcpy(&r, &x, 8); return r; }
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }   // default rounding: to nearest even
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline float __uint2float_rn(unsigned x) { return (float)x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline unsigned __brev(unsigned x) {
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
    x = ((x >> 8) & 0x00ff00ffu) | ((x & 0x00ff00ffu) << 8);
    return (x >> 16) | (x << 16);
}
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }

// Cache-hinted loads and stores are plain accesses on the host.
template <class T> inline T __ldg(const T* p) { return *p; }
template <class T> inline T __ldcs(const T* p) { return *p; }
template <class T> inline void __stcs(T* p, T v) { *p = v; }

namespace fp_sim {
// The GPU faults on a misaligned vector access; the host would not, so the simulator checks.
inline void require_aligned(const void* p, unsigned alignment, const char* what) {
    if (reinterpret_cast<uintptr_t>(p) % alignment != 0) fp_sim_fail(what);
}
} // namespace fp_sim

// Registration of kernels in the simulator's library (see SimLibraryBuilder: one line per kernel).
#include "sim_registry.h"
