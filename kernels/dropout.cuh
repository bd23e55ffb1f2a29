// dropout.cuh — the dropout mask of FastPrefix.Backends.DropoutHash on the device, bit for bit.
//
// Element `index` of a dropout site is kept when the top 24 bits of SplitMix64(seed + golden·(index + 1)) reach
// p·2^24 rounded up; kept elements are scaled by 1/(1 − p) (0 when p ≥ 1). The mask depends only on (seed, index),
// so the backward regenerates it instead of storing it, and every backend draws the same one. The seed is read on
// the device from the step's staged ints [2·seedIndex] (low half) and [2·seedIndex + 1] (high half).
#pragma once

// The 24 random bits of element `index` (DropoutHash.Bits).
__device__ __forceinline__ unsigned dropout_bits(unsigned long long seed, long long index)
{
    unsigned long long z = seed + 0x9E3779B97F4A7C15ull * static_cast<unsigned long long>(index + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<unsigned>(z >> 40);
}

// One dropout site: which elements survive and by how much they are scaled. Inactive (p = 0) keeps everything at 1.
struct Dropout {
    unsigned long long seed;
    unsigned threshold;   // kept when dropout_bits ≥ threshold (DropoutHash.Threshold: ⌈p·2^24⌉, exact in double)
    float scale;          // the kept elements' factor
    bool active;

    __device__ __forceinline__ bool keeps(long long index) const { return !active || dropout_bits(seed, index) >= threshold; }

    // x as dropout leaves it: x · scale when kept, else 0.
    __device__ __forceinline__ float apply(float x, long long index) const { return keeps(index) ? x * scale : 0.0f; }
};

// The site of probability p whose seed is at ints [2·seed_index, 2·seed_index + 1] of `seeds` (read only when p > 0).
__device__ __forceinline__ Dropout make_dropout(float p, const int* seeds, int seed_index)
{
    Dropout d;
    d.active = p > 0.0f;
    d.seed = 0;
    d.threshold = 0;
    d.scale = 1.0f;
    if (d.active) {
        d.seed = static_cast<unsigned long long>(static_cast<unsigned>(seeds[2 * seed_index])) |
                 static_cast<unsigned long long>(static_cast<unsigned>(seeds[2 * seed_index + 1])) << 32;
        d.threshold = p >= 1.0f ? (1u << 24) : static_cast<unsigned>(ceil(static_cast<double>(p) * 16777216.0));
        d.scale = p >= 1.0f ? 0.0f : 1.0f / (1.0f - p);
    }
    return d;
}
