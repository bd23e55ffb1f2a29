// mma.cuh — one warp's tensor-core product, for kernels that want tensor cores (sm_80 and newer), and the same
// product on the simulator, so such kernels are tested in CI like every other.
//
//   D (16 x 8, fp32) = A (16 x 16, bf16, row-major) · B (16 x 8, bf16, column-major) + C (16 x 8, fp32)
//
// is PTX mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32. All 32 lanes of the warp call it together, each
// holding its fragment of A, B and C as the PTX ISA lays them out. With g = lane / 4 and t = lane % 4:
//   A: reg[0] = A[g][2t, 2t+1], reg[1] = A[g+8][2t, 2t+1], reg[2] = A[g][2t+8, 2t+9], reg[3] = A[g+8][2t+8, 2t+9]
//   B: reg[0] = B[2t, 2t+1][g], reg[1] = B[2t+8, 2t+9][g]          (B[k][n]: row k, column n)
//   C: v[0] = C[g][2t], v[1] = C[g][2t+1], v[2] = C[g+8][2t], v[3] = C[g+8][2t+1]
// Two bf16 share a 32-bit register, the one with the smaller index in the low half. The GPU accumulates in fp32 in
// an order of its own; the simulator in k order, so results agree to fp32 rounding, not bit for bit.
#pragma once
#include "common.cuh"

struct MmaA { unsigned reg[4]; };
struct MmaB { unsigned reg[2]; };
struct MmaC { float v[4]; };

__device__ __forceinline__ unsigned pack_bf16x2(bf16 low, bf16 high) {
    return static_cast<unsigned>(low.bits) | (static_cast<unsigned>(high.bits) << 16);
}
__device__ __forceinline__ float low_bf16(unsigned pair) { return __uint_as_float(pair << 16); }
__device__ __forceinline__ float high_bf16(unsigned pair) { return __uint_as_float(pair & 0xffff0000u); }

// c += a · b for the warp (every lane calls it, with the whole warp converged).
__device__ __forceinline__ void mma_16x8x16(MmaC& c, const MmaA& a, const MmaB& b) {
#ifdef FASTPREFIX_SIM
    // Each lane gathers the A rows and B columns of its four outputs from the lanes that hold them, k pair by
    // k pair: A[r][2p, 2p+1] is in lane (r % 8) * 4 + p % 4, B[2p, 2p+1][n] in lane n * 4 + p % 4.
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    for (int p = 0; p < 8; p++) {
        const int high = p >= 4 ? 1 : 0;
        unsigned a0 = __shfl_sync(FULL_MASK, a.reg[2 * high], g * 4 + p % 4);        // A[g][2p, 2p+1]
        unsigned a1 = __shfl_sync(FULL_MASK, a.reg[2 * high + 1], g * 4 + p % 4);    // A[g+8][2p, 2p+1]
        unsigned b0 = __shfl_sync(FULL_MASK, b.reg[high], (2 * t) * 4 + p % 4);       // B[2p, 2p+1][2t]
        unsigned b1 = __shfl_sync(FULL_MASK, b.reg[high], (2 * t + 1) * 4 + p % 4);   // B[2p, 2p+1][2t+1]
        c.v[0] += low_bf16(a0) * low_bf16(b0) + high_bf16(a0) * high_bf16(b0);
        c.v[1] += low_bf16(a0) * low_bf16(b1) + high_bf16(a0) * high_bf16(b1);
        c.v[2] += low_bf16(a1) * low_bf16(b0) + high_bf16(a1) * high_bf16(b0);
        c.v[3] += low_bf16(a1) * low_bf16(b1) + high_bf16(a1) * high_bf16(b1);
    }
#else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c.v[0]), "+f"(c.v[1]), "+f"(c.v[2]), "+f"(c.v[3])
        : "r"(a.reg[0]), "r"(a.reg[1]), "r"(a.reg[2]), "r"(a.reg[3]), "r"(b.reg[0]), "r"(b.reg[1]));
#endif
}

// The C fragments of two adjacent 16 x 8 results (columns 0-7 and 8-15) as the A fragment of a 16 x 16 operand —
// the layouts line up lane by lane — split into a bf16 part and the bf16 of what that leaves: multiplying by both
// carries the values to ~16 bits instead of bf16's 8 (for probabilities and score gradients).
__device__ __forceinline__ void mma_c_as_split_a(const MmaC (&c)[2], MmaA& high, MmaA& low) {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
        const float x0 = c[q / 2].v[2 * (q % 2)], x1 = c[q / 2].v[2 * (q % 2) + 1];
        const bf16 h0 = to_bf16(x0), h1 = to_bf16(x1);
        high.reg[q] = pack_bf16x2(h0, h1);
        low.reg[q] = pack_bf16x2(to_bf16(x0 - to_float(h0)), to_bf16(x1 - to_float(h1)));
    }
}

// A's fragment from a row-major tile: element (r, k) at tile[r * ld + k].
__device__ __forceinline__ MmaA mma_load_a(const bf16* tile, long long ld) {
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    MmaA a;
    a.reg[0] = pack_bf16x2(tile[g * ld + 2 * t], tile[g * ld + 2 * t + 1]);
    a.reg[1] = pack_bf16x2(tile[(g + 8) * ld + 2 * t], tile[(g + 8) * ld + 2 * t + 1]);
    a.reg[2] = pack_bf16x2(tile[g * ld + 2 * t + 8], tile[g * ld + 2 * t + 9]);
    a.reg[3] = pack_bf16x2(tile[(g + 8) * ld + 2 * t + 8], tile[(g + 8) * ld + 2 * t + 9]);
    return a;
}

// B's fragment from a tile stored one column after another: element (k, n) at tile[n * ld + k] — e.g. the keys of
// attention, row-major (key, dim), as the B of Q · Kᵀ.
__device__ __forceinline__ MmaB mma_load_b(const bf16* tile, long long ld) {
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    MmaB b;
    b.reg[0] = pack_bf16x2(tile[g * ld + 2 * t], tile[g * ld + 2 * t + 1]);
    b.reg[1] = pack_bf16x2(tile[g * ld + 2 * t + 8], tile[g * ld + 2 * t + 9]);
    return b;
}

// B's fragment from a row-major tile: element (k, n) at tile[k * ld + n] — e.g. attention's values, (key, dim), as
// the B of P · V.
__device__ __forceinline__ MmaB mma_load_b_rows(const bf16* tile, long long ld) {
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    MmaB b;
    b.reg[0] = pack_bf16x2(tile[(2 * t) * ld + g], tile[(2 * t + 1) * ld + g]);
    b.reg[1] = pack_bf16x2(tile[(2 * t + 8) * ld + g], tile[(2 * t + 9) * ld + g]);
    return b;
}

// The accumulator's four values into a row-major fp32 tile: element (r, n) at out[r * ld + n].
__device__ __forceinline__ void mma_store_c(float* out, long long ld, const MmaC& c) {
    const int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    out[g * ld + 2 * t] = c.v[0];
    out[g * ld + 2 * t + 1] = c.v[1];
    out[(g + 8) * ld + 2 * t] = c.v[2];
    out[(g + 8) * ld + 2 * t + 1] = c.v[3];
}
