// dropout.cuh — the dropout mask of FastPrefix.Backends.DropoutHash, bit for bit: element i of a tensor is kept
// when the 24 high bits of SplitMix64(seed + golden · (i + 1)) reach the threshold DropoutHash.Threshold(p), and
// kept elements are scaled by keep = 1 / (1 − p) (computed once on the host in fp32, as the CPU does). Masks are
// never stored: a backward regenerates them from the same seed and element indices.
//
// The seed is read on the device from the step's staged ints (low, high), so a captured graph replays with each
// step's own seed.
#pragma once

// Kernels take a mask as three parameters: `const int* seed` (two ints of the staged seeds), `unsigned threshold`
// (0: everything kept, p = 0; 2^24: nothing kept, p = 1) and `float keep`.

__device__ __forceinline__ unsigned long long dropout_seed(const int* seed) {
    return static_cast<unsigned long long>(static_cast<unsigned>(seed[0])) |
           (static_cast<unsigned long long>(static_cast<unsigned>(seed[1])) << 32);
}

// The 24 random bits of element `index` (DropoutHash.Bits).
__device__ __forceinline__ unsigned dropout_bits(unsigned long long seed, long long index) {
    unsigned long long z = seed + 0x9E3779B97F4A7C15ull * static_cast<unsigned long long>(index + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<unsigned>(z >> 40);
}

// What element `index` is multiplied by: keep or 0.
__device__ __forceinline__ float dropout_factor(unsigned long long seed, long long index, unsigned threshold, float keep) {
    return dropout_bits(seed, index) >= threshold ? keep : 0.0f;
}
