// common.cuh — what every kernel file includes: bf16, 128-bit packed access, warp and block reductions.
//
// Conventions for all kernels:
// - No CUDA headers. NVRTC compiles each kernel file with -default-device; the simulator compiles it with
//   the host compiler against sim/cuda_sim.h. So constants such as infinity are written as bit patterns.
// - bf16 is a raw 16-bit value (struct bf16). Conversions round to nearest even exactly like
//   FastPrefix.IO.BFloat16Conversions: NaN stays a quiet NaN of the same sign, overflow becomes ±inf.
// - Kernels are `extern "C" __global__` (the launchers find them by name); sizes that may pass 2^31
//   elements are `long long`, and so is index arithmetic on them.
// - Functions in headers are inline: each kernel file is its own program for NVRTC, but the simulator
//   links all of them into one library.
// - Dynamic shared memory is declared with DYNAMIC_SHARED(type, name), which the simulator can provide.
#pragma once

#define FULL_MASK 0xffffffffu

__device__ __forceinline__ float float_from_bits(unsigned bits) { return __uint_as_float(bits); }
__device__ __forceinline__ float positive_infinity() { return __uint_as_float(0x7f800000u); }
__device__ __forceinline__ float negative_infinity() { return __uint_as_float(0xff800000u); }
__device__ __forceinline__ float largest_float() { return __uint_as_float(0x7f7fffffu); }

// ---- bf16 ----
struct bf16 {
    unsigned short bits;
};

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(bf16 x) { return __uint_as_float(static_cast<unsigned>(x.bits) << 16); }

// Round to nearest even: add 0x7fff plus the lowest kept bit, then truncate. NaN is kept quiet instead.
__device__ __forceinline__ bf16 to_bf16(float x) {
    unsigned u = __float_as_uint(x);
    bf16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) r.bits = static_cast<unsigned short>((u >> 16) | 0x40u);
    else r.bits = static_cast<unsigned short>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return r;
}

// from_float<T>(x): store a float result in the precision of T (float or bf16).
template <class T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 from_float<bf16>(float x) { return to_bf16(x); }

// ---- 128-bit packed access (llm.c's x128): 4 floats or 8 bf16 in one load or store ----
template <class T> struct __align__(16) Packed128 {
    static constexpr int size = 16 / sizeof(T);
    T payload[size];
    __device__ __forceinline__ T& operator[](int i) { return payload[i]; }
    __device__ __forceinline__ const T& operator[](int i) const { return payload[i]; }
};

// The address must be 16-byte aligned (the simulator checks, the GPU would fault).
template <class T> __device__ __forceinline__ Packed128<T> load128(const T* address) {
#ifdef FASTPREFIX_SIM
    fp_sim::require_aligned(address, 16, "load128 of an address that is not 16-byte aligned");
#endif
    int4 bits = *reinterpret_cast<const int4*>(address);
    Packed128<T> result;
    *reinterpret_cast<int4*>(result.payload) = bits;
    return result;
}

template <class T> __device__ __forceinline__ void store128(T* address, const Packed128<T>& value) {
#ifdef FASTPREFIX_SIM
    fp_sim::require_aligned(address, 16, "store128 to an address that is not 16-byte aligned");
#endif
    *reinterpret_cast<int4*>(address) = *reinterpret_cast<const int4*>(value.payload);
}

__device__ __forceinline__ bool is_aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}

// ---- reductions: one helper for the warp, one for the block, any associative operation ----
struct SumOp {
    __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
    __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Every lane of a full warp gets op over the 32 lanes' values (a butterfly: the order is fixed).
template <class Op> __device__ __forceinline__ float warp_reduce(float value, Op op) {
    for (int offset = 16; offset > 0; offset >>= 1) value = op(value, __shfl_xor_sync(FULL_MASK, value, offset));
    return value;
}

// Every thread of the block gets op over all threads' values. blockDim.x must be a multiple of 32 (at most
// 1024) and every thread must call it. Ends with a barrier, so it can be called again at once.
template <class Op> __device__ __forceinline__ float block_reduce(float value, Op op, float identity) {
    __shared__ float partial[32];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    value = warp_reduce(value, op);
    if (lane == 0) partial[warp] = value;
    __syncthreads();
    value = warp_reduce(lane < warps ? partial[lane] : identity, op);
    __syncthreads();
    return value;
}

// ---- dynamic shared memory ----
#ifdef FASTPREFIX_SIM
#define DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(fp_sim_dynamic_shared())
#else
#define DYNAMIC_SHARED(T, name)                                 \
    extern __shared__ __align__(16) unsigned char fp_dynamic_shared_[]; \
    T* name = reinterpret_cast<T*>(fp_dynamic_shared_)
#endif
