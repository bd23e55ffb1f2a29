// convert.cu — precision conversions between fp32 and bf16, elementwise over flat arrays.
//
// Conventions: rounding to bf16 is round-to-nearest-even (common.cuh's to_bf16, bit for bit the same as
// FastPrefix.IO.BFloat16Conversions); widening is exact. Each thread handles 8 consecutive elements: with
// 16-byte aligned pointers through 128-bit loads and stores, otherwise (views at odd offsets) and for the
// tail one element at a time. Any count is fine; the launchers skip count 0.
#include "common.cuh"

// in (n) fp32 -> out (n) bf16
extern "C" __global__ void convert_f32_to_bf16(bf16* out, const float* in, long long n)
{
    const long long start = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) * 8;
    if (start >= n) return;
    if (start + 8 <= n && is_aligned16(in) && is_aligned16(out)) {
        Packed128<float> lo = load128(in + start), hi = load128(in + start + 4);
        Packed128<bf16> packed;
        for (int k = 0; k < 4; ++k) {
            packed[k] = to_bf16(lo[k]);
            packed[k + 4] = to_bf16(hi[k]);
        }
        store128(out + start, packed);
        return;
    }
    const long long end = start + 8 < n ? start + 8 : n;
    for (long long i = start; i < end; ++i) out[i] = to_bf16(in[i]);
}

// in (n) bf16 -> out (n) fp32
extern "C" __global__ void convert_bf16_to_f32(float* out, const bf16* in, long long n)
{
    const long long start = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) * 8;
    if (start >= n) return;
    if (start + 8 <= n && is_aligned16(in) && is_aligned16(out)) {
        Packed128<bf16> packed = load128(in + start);
        Packed128<float> lo, hi;
        for (int k = 0; k < 4; ++k) {
            lo[k] = to_float(packed[k]);
            hi[k] = to_float(packed[k + 4]);
        }
        store128(out + start, lo);
        store128(out + start + 4, hi);
        return;
    }
    const long long end = start + 8 < n ? start + 8 : n;
    for (long long i = start; i < end; ++i) out[i] = to_float(in[i]);
}
