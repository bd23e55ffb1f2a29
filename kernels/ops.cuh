// ops.cuh — what the backend's op kernels (elementwise, layernorm, heads, optimizer) share: grid-stride loops
// and sums in double whose order is fixed.
//
// Grid-stride loops: launchers cap grids at a few blocks per multiprocessor (the simulator pays per thread, a GPU
// loses nothing), so every kernel loops over its work with the stride of the whole grid. Work is indexed in
// long long: activations of a large batch pass 2^31 elements.
#pragma once

#include "common.cuh"

// Thread i of the grid, counted over all blocks, and the number of threads in the grid.
__device__ __forceinline__ long long grid_thread() { return static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ long long grid_threads() { return static_cast<long long>(gridDim.x) * blockDim.x; }

// Warp i of the grid (one row of work per warp) and the number of warps; blockDim.x is a multiple of 32.
__device__ __forceinline__ long long grid_warp() { return (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / 32; }
__device__ __forceinline__ long long grid_warps() { return static_cast<long long>(gridDim.x) * (blockDim.x / 32); }
__device__ __forceinline__ int lane_id() { return threadIdx.x % 32; }

// ---- sums in double: results that must not depend on timing, and that the CPU reference sums in double ----
// Every lane of a full warp gets the sum of the 32 lanes' values, added in a fixed butterfly order.
__device__ __forceinline__ double warp_sum(double value) {
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(FULL_MASK, value, offset);
    return value;
}

// Every thread of the block gets the sum over all threads (blockDim.x a multiple of 32; all threads call it).
// Ends with a barrier, so it can be called again at once.
__device__ __forceinline__ double block_sum(double value) {
    __shared__ double partial[32];
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    value = warp_sum(value);
    if (lane == 0) partial[warp] = value;
    __syncthreads();
    value = warp_sum(lane < warps ? partial[lane] : 0.0);
    __syncthreads();
    return value;
}

__device__ __forceinline__ double negative_infinity_double() { return __longlong_as_double(static_cast<long long>(0xfff0000000000000ull)); }

// True for every value but ±inf and NaN (no library call: NVRTC sees no math headers).
__device__ __forceinline__ bool is_finite(double x) { return x - x == 0.0; }
