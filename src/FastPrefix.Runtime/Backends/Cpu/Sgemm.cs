namespace FastPrefix.Backends.Cpu;
// TEMPORARY naive placeholder until the gemm branch lands.
public static unsafe class Sgemm
{
    public static string Implementation => "naive";
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        Parallel.For(0, m, i =>
        {
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++) s += (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]) * (transB ? b[(long)j * ldb + p] : b[(long)p * ldb + j]);
                c[(long)i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[(long)i * ldc + j]);
            }
        });
    }
}
