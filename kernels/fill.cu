// fill.cu — set every element of a flat array to one value (zeroing is the device's memset instead).
//
// Conventions: as convert.cu, each thread writes 8 consecutive elements, with one 128-bit store when the
// pointer is 16-byte aligned; the bf16 value is rounded on the device with to_bf16, so a fill and a
// conversion of the same float give the same bits.
#include "common.cuh"

template <class T> __device__ __forceinline__ void fill8(T* out, float value, long long n)
{
    const long long start = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) * 8;
    if (start >= n) return;
    const T v = from_float<T>(value);
    if (start + 8 <= n && is_aligned16(out)) {
        Packed128<T> packed;
        for (int k = 0; k < Packed128<T>::size; ++k) packed[k] = v;
        for (int k = 0; k < 8; k += Packed128<T>::size) store128(out + start + k, packed);
        return;
    }
    const long long end = start + 8 < n ? start + 8 : n;
    for (long long i = start; i < end; ++i) out[i] = v;
}

// out (n) fp32 = value
extern "C" __global__ void fill_f32(float* out, float value, long long n) { fill8(out, value, n); }

// out (n) bf16 = value rounded to bf16
extern "C" __global__ void fill_bf16(bf16* out, float value, long long n) { fill8(out, value, n); }
