// sim_semantics.cu — small kernels that pin down the CUDA semantics the simulator must reproduce.
//
// Each kernel writes what it observed; the C# tests compute the expected values from the CUDA programming
// guide's definitions. They compile with NVRTC too (KernelCompile test), so they are real CUDA.
#include "common.cuh"

// Threads do different amounts of work before a barrier; after it, each reads its neighbour's result.
// out (blocks * blockDim.x)
extern "C" __global__ void barrier_divergent(int* out)
{
    __shared__ int values[1024];
    const int t = threadIdx.x;
    int value = 0;
    for (int i = 0; i <= t % 7; ++i) value += t + i;
    values[t] = value;
    __syncthreads();
    out[blockIdx.x * blockDim.x + t] = values[(t + 1) % blockDim.x];
}

// __syncthreads_count / _and / _or over the predicate "t % divisor == 0". out (blocks * blockDim.x * 3)
extern "C" __global__ void barrier_predicates(int* out, int divisor)
{
    const int t = threadIdx.x, p = t % divisor == 0;
    const long long base = (static_cast<long long>(blockIdx.x) * blockDim.x + t) * 3;
    out[base] = __syncthreads_count(p);
    out[base + 1] = __syncthreads_and(p);
    out[base + 2] = __syncthreads_or(p);
}

// Every block tags its shared memory with its own index, many times over, and counts foreign tags it sees.
// out (blocks): mismatches seen by the block (0 when shared memory is per block)
extern "C" __global__ void shared_isolation(int* out, int rounds)
{
    __shared__ int tags[256];
    __shared__ int mismatches;
    const int t = threadIdx.x;
    if (t == 0) mismatches = 0;
    for (int r = 0; r < rounds; ++r) {
        tags[t] = blockIdx.x * 1000 + r;
        __syncthreads();
        if (tags[(t + r) % blockDim.x] != static_cast<int>(blockIdx.x) * 1000 + r) atomicAdd(&mismatches, 1);
        __syncthreads();
    }
    if (t == 0) out[blockIdx.x] = mismatches;
}

// The four shuffles of value = 100 * global thread + 7, with one lane argument and width.
// out (threads * 4): idx, up, down, xor
extern "C" __global__ void shuffles(int* out, int lane_argument, int width)
{
    const int g = blockIdx.x * blockDim.x + threadIdx.x;
    const int value = 100 * g + 7;
    out[g * 4 + 0] = __shfl_sync(FULL_MASK, value, lane_argument, width);
    out[g * 4 + 1] = __shfl_up_sync(FULL_MASK, value, lane_argument, width);
    out[g * 4 + 2] = __shfl_down_sync(FULL_MASK, value, lane_argument, width);
    out[g * 4 + 3] = __shfl_xor_sync(FULL_MASK, value, lane_argument, width);
}

// 64-bit values shuffle whole. out (threads * 2): xor 1 of a long long, down 3 of a double
extern "C" __global__ void shuffles_64(long long* out)
{
    const int g = blockIdx.x * blockDim.x + threadIdx.x;
    const long long wide = (static_cast<long long>(g) << 40) | (g + 1);
    out[g * 2] = __shfl_xor_sync(FULL_MASK, wide, 1);
    const double d = __shfl_down_sync(FULL_MASK, 0.5 + g, 3);
    out[g * 2 + 1] = __double_as_longlong(d);
}

// Votes with the full mask and, in divergent halves, with half-warp masks.
// out (threads * 6): ballot, any, all (full warp, predicate lane % 3 == 0); ballot, any, all (own half, predicate lane % 2)
extern "C" __global__ void votes(unsigned* out)
{
    const int g = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x % 32;
    out[g * 6 + 0] = __ballot_sync(FULL_MASK, lane % 3 == 0);
    out[g * 6 + 1] = __any_sync(FULL_MASK, lane % 3 == 0);
    out[g * 6 + 2] = __all_sync(FULL_MASK, lane % 3 == 0);
    if (lane < 16) {
        out[g * 6 + 3] = __ballot_sync(0x0000ffffu, lane % 2);
        out[g * 6 + 4] = __any_sync(0x0000ffffu, lane % 2);
        out[g * 6 + 5] = __all_sync(0x0000ffffu, lane % 2);
    } else {
        out[g * 6 + 3] = __ballot_sync(0xffff0000u, lane % 2);
        __syncwarp(0xffff0000u);
        out[g * 6 + 4] = __any_sync(0xffff0000u, 1);
        out[g * 6 + 5] = __all_sync(0xffff0000u, 1);
    }
}

// Every thread hits the same words: counter += 1 (int and float), max of thread ids, a CAS-built increment.
// counters: [0] int count, [1] max id, [2] CAS count; sum: float count
extern "C" __global__ void atomics(int* counters, float* sum)
{
    const int g = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(&counters[0], 1);
    atomicMax(&counters[1], g);
    int seen = counters[2], assumed;
    do {
        assumed = seen;
        seen = atomicCAS(&counters[2], assumed, assumed + 1);
    } while (seen != assumed);
    atomicAdd(sum, 1.0f);
    __threadfence();
}

// Reverses each block's slice through dynamic shared memory. in, out (blocks * blockDim.x)
extern "C" __global__ void dynamic_shared_reverse(float* out, const float* in)
{
    DYNAMIC_SHARED(float, buffer);
    const int t = threadIdx.x, base = blockIdx.x * blockDim.x;
    buffer[t] = in[base + t];
    __syncthreads();
    out[base + t] = buffer[blockDim.x - 1 - t];
}

// Each thread writes its coordinates at its global linear index. out (threads * 6): thread x y z, block x y z
extern "C" __global__ void indices_3d(int* out)
{
    const int threads_per_block = blockDim.x * blockDim.y * blockDim.z;
    const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
    const int thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    int* o = out + (block * threads_per_block + thread) * 6;
    o[0] = threadIdx.x; o[1] = threadIdx.y; o[2] = threadIdx.z;
    o[3] = blockIdx.x; o[4] = blockIdx.y; o[5] = blockIdx.z;
}

// Sum and max over each warp through warp_reduce. in (threads), out (warps * 2)
extern "C" __global__ void warp_reductions(float* out, const float* in)
{
    const int g = blockIdx.x * blockDim.x + threadIdx.x;
    const float sum = warp_reduce(in[g], SumOp{}), max = warp_reduce(in[g], MaxOp{});
    if (threadIdx.x % 32 == 0) {
        out[g / 32 * 2] = sum;
        out[g / 32 * 2 + 1] = max;
    }
}

// Grid-stride sum of in (n), one partial per block through block_reduce. out (gridDim.x)
extern "C" __global__ void block_sums(float* out, const float* in, long long n)
{
    float sum = 0.0f;
    for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += static_cast<long long>(gridDim.x) * blockDim.x)
        sum += in[i];
    sum = block_reduce(sum, SumOp{}, 0.0f);
    if (threadIdx.x == 0) out[blockIdx.x] = sum;
}

// Misuse the simulator must report instead of computing garbage (never launched on a GPU):
// a lane exits while the others shuffle with the full mask.
extern "C" __global__ void exited_lane_shuffle(float* out)
{
    if (threadIdx.x % 32 == 5) return;
    out[threadIdx.x] = __shfl_xor_sync(FULL_MASK, 1.0f, 1);
}

// ... and a 128-bit load from an address that is not 16-byte aligned.
extern "C" __global__ void misaligned_load(float* out, const float* in)
{
    Packed128<float> v = load128(in + 1);
    out[threadIdx.x] = v[0];
}

// A barrier loop: the simulator's context-switch benchmark (every iteration switches every thread).
extern "C" __global__ void barrier_loop(int iterations)
{
    for (int i = 0; i < iterations; ++i) __syncthreads();
}

// The math functions and intrinsics kernels commonly use, applied to x (n). out (n * 16)
extern "C" __global__ void math_functions(float* out, const float* x, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float v = x[i], a = fabsf(v) + 1.0f;
    float* o = out + i * 16;
    o[0] = expf(v);
    o[1] = __expf(v);
    o[2] = logf(a);
    o[3] = __logf(a);
    o[4] = erff(v);
    o[5] = tanhf(v);
    o[6] = rsqrtf(a);
    o[7] = fmaxf(v, 0.5f);
    o[8] = __fdividef(v, 3.0f);
    o[9] = __int_as_float(__float_as_int(v) ^ 0x80000000);
    o[10] = static_cast<float>(__float2int_rn(v * 10.0f));
    o[11] = sqrtf(a);
    o[12] = __saturatef(v);
    o[13] = fminf(v, -0.5f);
    o[14] = exp2f(v);
    o[15] = powf(a, 1.5f);
}
