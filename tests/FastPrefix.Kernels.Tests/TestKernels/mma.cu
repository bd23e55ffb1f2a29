// mma.cu — kernels that exercise kernels/mma.cuh: a bf16 matrix product on tensor cores, one warp per 16 x 8 tile.
#include "mma.cuh"

// c (m x n, fp32, row-major) = a (m x k, bf16, row-major) · bᵀ, b (n x k, bf16, row-major); m % 16, n % 8, k % 16 == 0.
// Grid (n / 8, m / 16), 32 threads.
extern "C" __global__ void mma_matmul_bt(float* c, const bf16* a, const bf16* b, int m, int n, int k) {
    const long long row0 = 16LL * blockIdx.y, col0 = 8LL * blockIdx.x;
    MmaC acc = {{0.f, 0.f, 0.f, 0.f}};
    for (int k0 = 0; k0 < k; k0 += 16)
        mma_16x8x16(acc, mma_load_a(a + row0 * k + k0, k), mma_load_b(b + col0 * k + k0, k));
    mma_store_c(c + row0 * n + col0, n, acc);
}

// c (m x n, fp32, row-major) = a (m x k, bf16, row-major) · b, b (k x n, bf16, row-major). Grid (n / 8, m / 16), 32 threads.
extern "C" __global__ void mma_matmul(float* c, const bf16* a, const bf16* b, int m, int n, int k) {
    const long long row0 = 16LL * blockIdx.y, col0 = 8LL * blockIdx.x;
    MmaC acc = {{0.f, 0.f, 0.f, 0.f}};
    for (int k0 = 0; k0 < k; k0 += 16)
        mma_16x8x16(acc, mma_load_a(a + row0 * k + k0, k), mma_load_b_rows(b + (long long)k0 * n + col0, n));
    mma_store_c(c + row0 * n + col0, n, acc);
}
